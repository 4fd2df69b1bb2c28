-- The identity graph: records derived from the contact rows and changed in the same transaction
-- as the rows, so that a returning customer is answered from two index probes and one record,
-- whatever its size. contact stays the data model and the source of truth. Every key leaves
-- room for a leading tenant column.

-- One record per customer: its answer, ready. Values are in answer order (the primary row's
-- first, then by first row), each with the first row that carries it (`*_rows`).
CREATE TABLE identity_customer (
    primary_id        bigint PRIMARY KEY,
    version           bigint NOT NULL,
    created_at        timestamptz NOT NULL,
    last_row_at       timestamptz NOT NULL,
    emails            text[] NOT NULL,
    email_rows        bigint[] NOT NULL,
    phones            text[] NOT NULL,
    phone_rows        bigint[] NOT NULL,
    primary_has_email boolean NOT NULL,
    primary_has_phone boolean NOT NULL,
    secondary_ids     bigint[] NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- Large lists live out of line, uncompressed: every write of a large customer rewrites them and
-- every read sends them, and compressing costs more CPU than the disk it saves (measured: the
-- merged record of two 1,000-row customers took 12 ms to write compressed, under 1 ms not).
ALTER TABLE identity_customer
    ALTER COLUMN emails SET STORAGE EXTERNAL,
    ALTER COLUMN email_rows SET STORAGE EXTERNAL,
    ALTER COLUMN phones SET STORAGE EXTERNAL,
    ALTER COLUMN phone_rows SET STORAGE EXTERNAL,
    ALTER COLUMN secondary_ids SET STORAGE EXTERNAL;

-- One record per distinct visible email and phone, naming the customer that holds it. The
-- primary key makes "no value in two customers" (I3) a property of the database.
CREATE TABLE identity_identifier (
    kind        text NOT NULL CHECK (kind IN ('email', 'phone')),
    value       text NOT NULL,
    customer_id bigint NOT NULL,
    PRIMARY KEY (kind, value)
);
CREATE INDEX identity_identifier_customer_idx ON identity_identifier (customer_id);

-- Record versions are never reused, so a plan made from an old record can always tell.
CREATE SEQUENCE identity_version_seq;

-- Changes made to contact outside the library (by hand in SQL), noted by the triggers below and
-- applied to the records before the next identify plans. No contact_id means "everything".
CREATE TABLE identity_pending (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_id    bigint,
    old_linked_id bigint,
    new_linked_id bigint,
    old_email     text,
    new_email     text,
    old_phone     text,
    new_phone     text,
    noted_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- How many changes wait in identity_pending: every read checks this one-row table instead of
-- scanning the journal (whose dead rows would cost until vacuumed).
CREATE TABLE identity_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    pending   bigint NOT NULL
);

CREATE FUNCTION identity_note_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO identity_pending (contact_id, new_linked_id, new_email, new_phone)
        VALUES (NEW.id, NEW.linked_id, NEW.email, NEW.phone_number);
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO identity_pending
            (contact_id, old_linked_id, new_linked_id, old_email, new_email, old_phone, new_phone)
        VALUES (NEW.id, OLD.linked_id, NEW.linked_id, OLD.email, NEW.email, OLD.phone_number,
                NEW.phone_number);
        IF OLD.id <> NEW.id THEN
            INSERT INTO identity_pending (contact_id) VALUES (OLD.id);
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO identity_pending (contact_id, old_linked_id, old_email, old_phone)
        VALUES (OLD.id, OLD.linked_id, OLD.email, OLD.phone_number);
    ELSE
        INSERT INTO identity_pending (contact_id) VALUES (NULL); -- TRUNCATE: everything
    END IF;
    UPDATE identity_state SET pending = pending + 1 + (TG_OP = 'UPDATE' AND OLD.id <> NEW.id)::int;
    RETURN NULL;
END
$$;

-- The library marks its own writes with the transaction-local setting identity.internal.
CREATE TRIGGER identity_note_insert AFTER INSERT ON contact FOR EACH ROW
    WHEN (current_setting('identity.internal', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION identity_note_change();
CREATE TRIGGER identity_note_update AFTER UPDATE ON contact FOR EACH ROW
    WHEN (current_setting('identity.internal', true) IS DISTINCT FROM 'on'
          AND (OLD.id, OLD.email, OLD.phone_number, OLD.linked_id, OLD.link_precedence,
               OLD.created_at, OLD.deleted_at)
              IS DISTINCT FROM (NEW.id, NEW.email, NEW.phone_number, NEW.linked_id,
                                NEW.link_precedence, NEW.created_at, NEW.deleted_at))
    EXECUTE FUNCTION identity_note_change();
CREATE TRIGGER identity_note_delete AFTER DELETE ON contact FOR EACH ROW
    WHEN (current_setting('identity.internal', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION identity_note_change();
CREATE TRIGGER identity_note_truncate AFTER TRUNCATE ON contact FOR EACH STATEMENT
    WHEN (current_setting('identity.internal', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION identity_note_change();

-- Existing rows (an upgrade): the records are built by the first repair, at migrate time.
INSERT INTO identity_pending (contact_id) SELECT NULL WHERE EXISTS (SELECT 1 FROM contact);
INSERT INTO identity_state (pending) SELECT count(*) FROM identity_pending;

-- The read of every identify and lookup, one row: whether changes made outside the library wait
-- to be applied; the customers holding the email and the phone (primary ids; the same customer
-- twice when it holds both); and their records, the phone's only when it is another customer
-- (a NULL version with an owner: the records were edited by hand).
CREATE TYPE identity_read_row AS (
    pending boolean, email_owner bigint, phone_owner bigint,
    e_version bigint, e_created_at timestamptz, e_last_row_at timestamptz,
    e_emails text[], e_email_rows bigint[], e_phones text[], e_phone_rows bigint[],
    e_primary_has_email boolean, e_primary_has_phone boolean, e_secondary_ids bigint[],
    p_version bigint, p_created_at timestamptz, p_last_row_at timestamptz,
    p_emails text[], p_email_rows bigint[], p_phones text[], p_phone_rows bigint[],
    p_primary_has_email boolean, p_primary_has_phone boolean, p_secondary_ids bigint[]
);

-- `p_known`: record versions the caller holds already (from its cache). Such a record comes back
-- without its lists, which are then neither fetched from TOAST nor sent, so a returning customer
-- costs the same at 1 row or 10,000. Versions come from one sequence and are never reused, so an
-- equal version is the same record, whichever customer the caller took it for.
CREATE FUNCTION identity_read_known(p_email text, p_phone text, p_known bigint[])
RETURNS SETOF identity_read_row
LANGUAGE sql STABLE AS $$
    SELECT (SELECT s.pending FROM identity_state AS s) > 0, e.customer_id, p.customer_id,
           c.version, c.created_at, c.last_row_at, cl.emails, cl.email_rows, cl.phones,
           cl.phone_rows, c.primary_has_email, c.primary_has_phone, cl.secondary_ids,
           d.version, d.created_at, d.last_row_at, dl.emails, dl.email_rows, dl.phones,
           dl.phone_rows, d.primary_has_email, d.primary_has_phone, dl.secondary_ids
    FROM (SELECT 1) AS one
    LEFT JOIN identity_identifier AS e ON e.kind = 'email' AND e.value = p_email
    LEFT JOIN identity_identifier AS p ON p.kind = 'phone' AND p.value = p_phone
    LEFT JOIN identity_customer AS c ON c.primary_id = e.customer_id
    LEFT JOIN identity_customer AS d
           ON d.primary_id = p.customer_id AND p.customer_id IS DISTINCT FROM e.customer_id
    -- each record's lists, unless its version is held
    LEFT JOIN LATERAL (SELECT c.emails, c.email_rows, c.phones, c.phone_rows, c.secondary_ids)
           AS cl ON c.version <> ALL(p_known)
    LEFT JOIN LATERAL (SELECT d.emails, d.email_rows, d.phones, d.phone_rows, d.secondary_ids)
           AS dl ON d.version <> ALL(p_known)
$$;

-- Every write starts here: it waits while a repair or rebuild runs (they hold this lock alone),
-- marks the transaction's writes to contact as the library's own, and answers false while
-- changes made outside the library wait to be applied (the caller repairs, then plans again).
CREATE FUNCTION identity_begin_write() RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtextextended('identity:graph', 0));
    PERFORM set_config('identity.internal', 'on', true);
    RETURN (SELECT pending FROM identity_state) = 0;
END
$$;

-- Creates the identifiers of new values for a customer. False, creating nothing, when one exists
-- already: someone created it since the caller read (the unique key waits for them to commit).
CREATE FUNCTION identity_claim(p_email text, p_phone text, p_customer bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF p_email IS NOT NULL THEN
        INSERT INTO identity_identifier VALUES ('email', p_email, p_customer) ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            RETURN false;
        END IF;
    END IF;
    IF p_phone IS NOT NULL THEN
        INSERT INTO identity_identifier VALUES ('phone', p_phone, p_customer) ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            DELETE FROM identity_identifier WHERE kind = 'email' AND value = p_email;
            RETURN false;
        END IF;
    END IF;
    RETURN true;
END
$$;

-- The write functions answer a status: the new row's id (or 0 when nothing is inserted), -1 when
-- what the plan was made from changed (nothing written: read and plan again), -2 when changes
-- made outside the library must be applied first (nothing written).

-- A new customer: its primary row, identifiers and record.
CREATE FUNCTION identity_new_customer(p_email text, p_phone text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    new_id bigint;
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
    INSERT INTO identity_customer (primary_id, version, created_at, last_row_at, emails, email_rows,
        phones, phone_rows, primary_has_email, primary_has_phone, secondary_ids, updated_at)
    VALUES (new_id, nextval('identity_version_seq'), stamp, stamp,
            array_remove(ARRAY[p_email], NULL), CASE WHEN p_email IS NULL THEN '{}' ELSE ARRAY[new_id] END,
            array_remove(ARRAY[p_phone], NULL), CASE WHEN p_phone IS NULL THEN '{}' ELSE ARRAY[new_id] END,
            p_email IS NOT NULL, p_phone IS NOT NULL, '{}', stamp);
    RETURN new_id;
END
$$;

-- A secondary row for a known customer. Valid as long as the customer still holds the request's
-- known values and its new values are still new, whatever else the customer gained meanwhile:
-- then the record as it is now comes back too (changed = true), for the answer.
CREATE FUNCTION identity_add_row(p_customer bigint, p_version bigint, p_email text, p_phone text,
                                 p_new_email boolean, p_new_phone boolean)
RETURNS TABLE (status bigint, changed boolean, emails text[], email_rows bigint[], phones text[],
               phone_rows bigint[], secondary_ids bigint[])
LANGUAGE plpgsql AS $$
DECLARE
    r identity_customer;
    new_id bigint;
    stamp timestamptz;
BEGIN
    IF NOT identity_begin_write() THEN
        status := -2;
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT * INTO r FROM identity_customer AS c WHERE c.primary_id = p_customer FOR UPDATE;
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
    stamp := greatest(clock_timestamp(), r.last_row_at);
    INSERT INTO contact (email, phone_number, linked_id, link_precedence, created_at, updated_at)
    VALUES (p_email, p_phone, p_customer, 'secondary', stamp, stamp)
    RETURNING id INTO new_id;
    UPDATE identity_customer AS c
    SET emails = CASE WHEN p_new_email THEN c.emails || p_email ELSE c.emails END,
        email_rows = CASE WHEN p_new_email THEN c.email_rows || new_id ELSE c.email_rows END,
        phones = CASE WHEN p_new_phone THEN c.phones || p_phone ELSE c.phones END,
        phone_rows = CASE WHEN p_new_phone THEN c.phone_rows || new_id ELSE c.phone_rows END,
        secondary_ids = c.secondary_ids || new_id,
        last_row_at = stamp,
        version = nextval('identity_version_seq'),
        updated_at = stamp
    WHERE c.primary_id = p_customer
    RETURNING c.emails, c.email_rows, c.phones, c.phone_rows, c.secondary_ids
    INTO emails, email_rows, phones, phone_rows, secondary_ids;
    status := new_id;
    changed := r.version <> p_version;
    IF NOT changed THEN
        emails := NULL; email_rows := NULL; phones := NULL; phone_rows := NULL; secondary_ids := NULL;
    END IF;
    RETURN NEXT;
END
$$;

-- Two customers joined: every row of the absorbed one relinked to the kept primary, its
-- identifiers moved, its record dropped, the kept record replaced by the merged one the client
-- computed from both records, if both are still the versions it read.
CREATE FUNCTION identity_merge(p_kept bigint, p_kept_version bigint, p_absorbed bigint,
                               p_absorbed_version bigint, p_relink bigint[], p_emails text[],
                               p_email_rows bigint[], p_phones text[], p_phone_rows bigint[],
                               p_secondary_ids bigint[], p_last_row_at timestamptz)
RETURNS bigint
LANGUAGE plpgsql AS $$
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
    UPDATE identity_customer
    SET emails = p_emails, email_rows = p_email_rows, phones = p_phones, phone_rows = p_phone_rows,
        secondary_ids = p_secondary_ids, last_row_at = p_last_row_at,
        version = nextval('identity_version_seq'), updated_at = clock_timestamp()
    WHERE primary_id = p_kept;
    RETURN 0;
END
$$;

-- For a request whose plan went stale: locks the records of the customers holding its values
-- (ascending, again until the set holds still), then reads them. The locks last until the end of
-- the caller's transaction, so the plan made from this read cannot go stale. Reads as
-- identity_read_known; pending while changes made outside the library wait (nothing locked then).
CREATE FUNCTION identity_lock(p_email text, p_phone text)
RETURNS SETOF identity_read_row
LANGUAGE plpgsql AS $$
DECLARE
    owners bigint[];
    now_owners bigint[];
BEGIN
    IF NOT identity_begin_write() THEN
        RETURN QUERY SELECT * FROM identity_read_known(p_email, p_phone, '{}');
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
    RETURN QUERY SELECT * FROM identity_read_known(p_email, p_phone, '{}') AS r;
END
$$;

DROP FUNCTION identity_apply(text, text, text[], bigint[], bigint[], bigint[], bigint, bigint[],
                             bigint, text, timestamptz);
DROP FUNCTION identity_lock_customers(text, text, text[], bigint[]);
DROP FUNCTION identity_customers(text, text);
