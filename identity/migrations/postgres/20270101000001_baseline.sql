-- The PostgreSQL schema of identity, whole: every table, index, trigger and SQL function, each
-- defined once. Databases made by earlier builds (their migrations were squashed into this
-- file) are refused by `migrate` and move their data instead (store.rs).

-- ---------------------------------------------------------------------------------------------
-- Rows

-- The contact table: one row per (email, phone) combination seen; rows sharing an email or a
-- phone form one customer, whose oldest row is the primary and every other row links to it.
-- Every row belongs to one tenant (one store serves many shops), and every key and index leads
-- with tenant_id, so the tables could be distributed by tenant across servers (Citus:
-- create_distributed_table(..., 'tenant_id')) with no change to the schema or to the
-- statements, each of which names one tenant. Callers that name no tenant use 'default'.
-- Contact ids come from one sequence, so they stay unique across tenants.
CREATE TABLE contact (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    email           text,
    phone_number    text,
    linked_id       bigint,
    link_precedence text NOT NULL CHECK (link_precedence IN ('primary', 'secondary')),
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    deleted_at      timestamptz,
    tenant_id       text NOT NULL DEFAULT 'default'
        CONSTRAINT contact_tenant_id_valid CHECK (tenant_id ~ '^[A-Za-z0-9._-]{1,64}$'),
    CONSTRAINT contact_has_identifier CHECK (email IS NOT NULL OR phone_number IS NOT NULL),
    CONSTRAINT contact_link_matches_precedence
        CHECK ((link_precedence = 'primary') = (linked_id IS NULL)),
    -- finite timestamps within years 1-9999, which every client can represent
    CONSTRAINT contact_created_at_in_range
        CHECK (created_at >= '0001-01-01 00:00:00+00' AND created_at < '9999-12-31 00:00:00+00'),
    CONSTRAINT contact_updated_at_in_range
        CHECK (updated_at >= '0001-01-01 00:00:00+00' AND updated_at < '9999-12-31 00:00:00+00'),
    CONSTRAINT contact_pkey PRIMARY KEY (tenant_id, id),
    -- a row links only to a row of its own tenant
    CONSTRAINT contact_linked_id_fkey
        FOREIGN KEY (tenant_id, linked_id) REFERENCES contact (tenant_id, id)
);

CREATE INDEX contact_email_idx ON contact (tenant_id, email) WHERE deleted_at IS NULL;
CREATE INDEX contact_phone_number_idx ON contact (tenant_id, phone_number) WHERE deleted_at IS NULL;
-- Deleting a row makes PostgreSQL look for rows that link to it (the foreign key
-- contact_linked_id_fkey), by (tenant_id, linked_id) and whatever deleted_at says: a partial
-- index on visible rows cannot answer that, so each deleted row scanned the tenant's rows (an
-- erase of 18,500 rows took 26 s). This index covers every row; reads of visible rows filter
-- deleted_at on it.
CREATE INDEX contact_linked_id_idx ON contact (tenant_id, linked_id);
-- An erase also deletes the soft-deleted rows that link to its rows or carry its values: few
-- (only hand edits make them), found through this instead of scanning the tenant's rows.
CREATE INDEX contact_deleted_idx ON contact (tenant_id, id) WHERE deleted_at IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- The identity graph: records derived from the contact rows and changed in the same transaction
-- as the rows, so that a returning customer is answered from two index probes and one record,
-- whatever its size. contact stays the data model and the source of truth.

-- One record per customer: its answer, ready. Values are in answer order (the primary row's
-- first, then by first row), each with the first row that carries it (`*_rows`).
--
-- A new row costs the same at any customer size: the lists are kept in two parts, the base
-- (large, out of line, rewritten only by merges and every 32nd new row) and a short tail of the
-- values and rows added since (inline). Adding a row appends to the tail, so neither the base's
-- TOAST data nor its bytes on the wire change: a reader that holds the base (by `base_version`)
-- is sent the tail alone. The answer lists are base || tail.
CREATE TABLE identity_customer (
    primary_id         bigint NOT NULL,
    version            bigint NOT NULL,
    created_at         timestamptz NOT NULL,
    last_row_at        timestamptz NOT NULL,
    emails             text[] NOT NULL,
    email_rows         bigint[] NOT NULL,
    phones             text[] NOT NULL,
    phone_rows         bigint[] NOT NULL,
    primary_has_email  boolean NOT NULL,
    primary_has_phone  boolean NOT NULL,
    secondary_ids      bigint[] NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    base_version       bigint NOT NULL,
    tail_emails        text[] NOT NULL DEFAULT '{}',
    tail_email_rows    bigint[] NOT NULL DEFAULT '{}',
    tail_phones        text[] NOT NULL DEFAULT '{}',
    tail_phone_rows    bigint[] NOT NULL DEFAULT '{}',
    tail_secondary_ids bigint[] NOT NULL DEFAULT '{}',
    tenant_id          text NOT NULL,
    CONSTRAINT identity_customer_pkey PRIMARY KEY (tenant_id, primary_id)
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
    tenant_id   text NOT NULL,
    CONSTRAINT identity_identifier_pkey PRIMARY KEY (tenant_id, kind, value)
);
CREATE INDEX identity_identifier_customer_idx ON identity_identifier (tenant_id, customer_id);

-- Record versions are never reused, so a plan made from an old record can always tell.
CREATE SEQUENCE identity_version_seq;

-- Changes made to contact outside the library (by hand in SQL), noted by the triggers below and
-- applied to the records before the next identify plans. No contact_id means "everything".
CREATE TABLE identity_pending (
    id            bigint GENERATED ALWAYS AS IDENTITY,
    contact_id    bigint,
    old_linked_id bigint,
    new_linked_id bigint,
    old_email     text,
    new_email     text,
    old_phone     text,
    new_phone     text,
    noted_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    tenant_id     text NOT NULL,
    CONSTRAINT identity_pending_pkey PRIMARY KEY (tenant_id, id)
);

-- One row per tenant the library has met (no row: the defaults below).
--   pending: how many changes made outside the library wait in identity_pending for it (every
--     read checks this instead of scanning the journal, whose dead rows would cost until
--     vacuumed).
--   phone_region: the region (ISO 3166 alpha-2) the tenant's national phone numbers are read in
--     (NULL: none); the library then stores and matches every number of the tenant in E.164.
--     The library parses; the setting lives here, so every process agrees. It changes only
--     under the tenant's lock alone, and only while the tenant has no rows, so every row of a
--     tenant was written under its current region.
--   blocked_version: the version of the tenant's blocked list (0: the defaults, tenant '*' of
--     identity_blocked). Changing the list, suppressing values (erase) or changing the caps
--     moves it, so no write planned under the old screening commits after the change.
--   max_emails, max_phones: per-customer caps on distinct emails and phone numbers (NULL: none).
CREATE TABLE identity_tenant (
    tenant_id       text PRIMARY KEY,
    pending         bigint NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    phone_region    text
        CONSTRAINT identity_tenant_phone_region_valid CHECK (phone_region ~ '^[A-Z]{2}$'),
    blocked_version bigint NOT NULL DEFAULT 0,
    max_emails      bigint,
    max_phones      bigint
);

-- ---------------------------------------------------------------------------------------------
-- Governance

-- Merge protection: each tenant's blocked values (exact normalized values, or patterns matched
-- in Rust), which a request never stores and never matches. Tenant '*' (not a valid tenant id)
-- holds the defaults: the list of every tenant whose blocked_version is 0. A tenant's first
-- change copies them to its own rows. The list changes only under the tenant's lock alone
-- (identity_change_blocked), so no value blocked before a write commits is stored by it.
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

-- History: every change to a tenant's customers, appended by the function that makes it, in its
-- transaction (a row created and the values it joined through, two customers merged and the
-- request that joined them, a blocked-list change). customer_id is the customer's primary at
-- the time; NULL for a change of the tenant's own (its blocked list). Imported rows are recorded
-- once as 'existing', in the order of their age.
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

-- Erase: a receipt per erased row (so erasing again by any of its ids answers the same
-- receipt), the store's suppression secret (made by the first erase that suppresses; the first
-- insert wins), and each tenant's suppressed values as HMAC-SHA256 digests under it, which
-- screening treats as blocked. Suppressing bumps the tenant's blocked_version, as a change of
-- the blocked list does, so no write screened before it commits after it.
CREATE TABLE identity_erasure (
    tenant_id   text NOT NULL,
    contact_id  bigint NOT NULL,
    customer_id bigint NOT NULL,
    suppressed  boolean NOT NULL,
    erased_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, contact_id)
);

CREATE INDEX identity_erasure_customer_idx ON identity_erasure (tenant_id, customer_id);

CREATE TABLE identity_secret (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    secret     bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE identity_suppressed (
    tenant_id  text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('email', 'phone')),
    digest     bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, kind, digest)
);

-- The erasure log in the database: each erase's record (its receipt, every row it deleted with
-- the row's time of creation, the digests it suppressed and the fingerprint of their secret;
-- no email or phone number), as the line an erasure log file holds. Exported and applied again
-- to a restored backup (Identity::erasures, Identity::reapply_erasures).
CREATE TABLE identity_erasure_record (
    tenant_id   text NOT NULL,
    customer_id bigint NOT NULL,
    erased_at   timestamptz NOT NULL,
    record      text NOT NULL,
    PRIMARY KEY (tenant_id, customer_id)
);

-- One row that a readiness probe rewrites (64 KiB) after the storage refused a write, to learn
-- whether it takes writes again: it holds nothing else, and nothing reads it. Stored out of
-- line and uncompressed, so a rewrite needs new pages as a real write would.
CREATE TABLE identity_probe (
    id     integer PRIMARY KEY CHECK (id = 1),
    filler bytea NOT NULL
);
ALTER TABLE identity_probe ALTER COLUMN filler SET STORAGE EXTERNAL;

-- ---------------------------------------------------------------------------------------------
-- Changes made outside the library

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

-- ---------------------------------------------------------------------------------------------
-- The read of identify and lookup (one statement, no lock)

-- One row: whether changes made outside the library wait to be applied; the customers holding
-- the email and the phone (primary ids; the same customer twice when it holds both); and their
-- records, the phone's only when it is another customer (a NULL version with an owner: the
-- records were edited by hand). Each record: its header, its base lists, its tail lists.
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

-- `p_versions`, `p_bases`: the record versions and the base versions the caller holds (from its
-- cache). A held record comes back without its lists, which are then neither fetched from
-- TOAST nor sent, so a returning customer costs the same at 1 row or 10,000. Versions come from
-- one sequence and are never reused, so an equal version is the same record (or base), whoever
-- wrote it. The two are apart because a caller may hold a newer version than a read sees (a
-- writer has its answer a moment before its commit is visible): the read then sends the older
-- record's tail, on a base the caller holds.
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

-- ---------------------------------------------------------------------------------------------
-- Writes
--
-- The write functions answer a status: the new row's id, or the merged record's version; -1
-- when what the plan was made from changed (nothing written: read and plan again); -2 when
-- changes made outside the library must be applied first (nothing written); -3 when the
-- tenant's phone region or blocked-list version is not the one the request was read under
-- (nothing written: read the settings and the request again); -4 (a merge) when a split keeps
-- the two customers apart and the plan is current (nothing written).
--
-- Each takes the tenant's advisory lock once, shared (identity_begin_write), before any row
-- lock; a repair, a rebuild and every settings change take it alone. Then it checks the
-- settings (-3) and the pending changes (-2), in that order.

-- The start of every write: waits while a repair, a rebuild or a settings change of the tenant
-- runs (they hold the tenant's lock alone; other tenants go on), takes the lock shared until the
-- end of the transaction, marks the transaction's writes to contact as the library's own, and
-- answers false while changes made outside the library wait to be applied.
CREATE FUNCTION identity_begin_write(p_tenant text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtextextended('identity:graph:' || p_tenant, 0));
    PERFORM set_config('identity.internal', 'on', true);
    RETURN coalesce((SELECT t.pending FROM identity_tenant AS t WHERE t.tenant_id = p_tenant), 0) = 0;
END
$$;

-- Whether the tenant's region is p_region (NULL: none) and its blocked list is at version
-- p_blocked. The caller holds the tenant's lock (identity_begin_write), under which neither
-- changes.
CREATE FUNCTION identity_settings_are(p_tenant text, p_region text, p_blocked bigint)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT t.phone_region FROM identity_tenant AS t WHERE t.tenant_id = p_tenant)
               IS NOT DISTINCT FROM p_region
       AND coalesce((SELECT t.blocked_version FROM identity_tenant AS t
                     WHERE t.tenant_id = p_tenant), 0) = p_blocked;
END
$$;

-- Creates the identifiers of new values for a customer. False, creating nothing, when one exists
-- already: someone created it since the caller read (the unique key waits for them to commit).
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

-- A new customer: its primary row, identifiers, record (all base) and event.
CREATE FUNCTION identity_new_customer(p_tenant text, p_region text, p_blocked bigint,
                                      p_email text, p_phone text)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    ready boolean;
    new_id bigint;
    v bigint;
    stamp timestamptz;
BEGIN
    ready := identity_begin_write(p_tenant);
    IF NOT identity_settings_are(p_tenant, p_region, p_blocked) THEN
        RETURN -3;
    END IF;
    IF NOT ready THEN
        RETURN -2;
    END IF;
    stamp := clock_timestamp();
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
    INSERT INTO identity_event (tenant_id, customer_id, kind, contact_id, email, phone)
    VALUES (p_tenant, new_id, 'created', new_id, p_email, p_phone);
    RETURN new_id;
END
$$;

-- Internal: the body of identity_add_row and identity_add_row_exact, which have taken the
-- tenant's lock and checked its settings and pending changes.
--
-- A secondary row for a known customer, appended to the record's tail; every 32nd appended row
-- folds the tail into the base (so the tail stays inline and the base's rewrite is amortized).
-- Valid as long as the customer still holds the request's known values and its new values are
-- still new, whatever else the customer gained meanwhile: then (changed = true) the record as
-- it is now comes back for the answer, as a tail on a base (`on_base`): the base the caller
-- holds (`p_base_version`) when that was the base before this row, else the current one, sent.
-- Only inline columns are read, so the base is never detoasted unless it must be sent. Records
-- the row's event (the values the customer held already are the ones the row joined through).
CREATE FUNCTION identity_append_row(p_tenant text, p_customer bigint, p_version bigint,
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
    INSERT INTO identity_event (tenant_id, customer_id, kind, contact_id, email, phone, via)
    VALUES (p_tenant, p_customer, 'created', new_id, p_email, p_phone,
            nullif(concat_ws(',',
                CASE WHEN p_email IS NOT NULL AND NOT p_new_email THEN 'email' END,
                CASE WHEN p_phone IS NOT NULL AND NOT p_new_phone THEN 'phone' END), ''));
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
            FROM identity_customer AS c WHERE c.tenant_id = p_tenant AND c.primary_id = p_customer;
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

-- A secondary row for a known customer (identity_append_row).
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
DECLARE
    ready boolean;
BEGIN
    ready := identity_begin_write(p_tenant);
    IF NOT identity_settings_are(p_tenant, p_region, p_blocked) THEN
        status := -3;
        RETURN NEXT;
        RETURN;
    END IF;
    IF NOT ready THEN
        status := -2;
        RETURN NEXT;
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM identity_append_row(p_tenant, p_customer, p_version,
                                                   p_base_version, p_email, p_phone,
                                                   p_new_email, p_new_phone);
END
$$;

-- identity_add_row for a plan that counted the customer's values against a cap: it holds only
-- for the record it read (identity_add_row appends to whatever the record is now, and two such
-- appends could pass the cap together), so a newer record answers -1 (stale: plan again). The
-- record stays locked to the end of the transaction.
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
    IF NOT identity_settings_are(p_tenant, p_region, p_blocked) THEN
        status := -3;
        RETURN NEXT;
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM identity_append_row(p_tenant, p_customer, p_version,
                                                   p_base_version, p_email, p_phone,
                                                   p_new_email, p_new_phone);
END
$$;

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

-- Two customers joined: every row of the absorbed one relinked to the kept primary, its
-- identifiers moved, its record dropped, the kept record replaced by the merged one the client
-- computed from both records (all base), if both are still the versions it read. Records the
-- merge with the request that joined the two customers (p_email, p_phone). Withheld (-4) when a
-- split keeps the two customers apart and the plan is current (else -1: stale, plan again).
-- Answers the merged record's version.
CREATE FUNCTION identity_merge(p_tenant text, p_region text, p_blocked bigint, p_kept bigint,
                               p_kept_version bigint, p_absorbed bigint,
                               p_absorbed_version bigint, p_relink bigint[], p_emails text[],
                               p_email_rows bigint[], p_phones text[], p_phone_rows bigint[],
                               p_secondary_ids bigint[], p_last_row_at timestamptz,
                               p_email text, p_phone text)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    ready boolean;
    v bigint;
BEGIN
    ready := identity_begin_write(p_tenant);
    IF NOT identity_settings_are(p_tenant, p_region, p_blocked) THEN
        RETURN -3;
    END IF;
    IF NOT ready THEN
        RETURN -2;
    END IF;
    IF identity_kept_apart(p_tenant, p_kept, p_absorbed) THEN
        IF (SELECT count(*) FROM identity_customer
            WHERE tenant_id = p_tenant
              AND ((primary_id = p_kept AND version = p_kept_version)
                   OR (primary_id = p_absorbed AND version = p_absorbed_version))) = 2 THEN
            RETURN -4;
        END IF;
        RETURN -1;
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
    INSERT INTO identity_event (tenant_id, customer_id, kind, contact_id, contact_ids,
                                email, phone)
    VALUES (p_tenant, p_kept, 'merged', p_absorbed, p_relink, p_email, p_phone);
    RETURN v;
END
$$;

-- For a request whose plan went stale: locks the records of the customers holding its values
-- (ascending, again until the set holds still), then reads them. The locks last until the end of
-- the caller's transaction, so the plan made from this read cannot go stale. Reads as
-- identity_read_known; pending while changes made outside the library wait (nothing locked then).
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

-- ---------------------------------------------------------------------------------------------
-- Tenant settings: each change takes the tenant's lock alone, so no write of the tenant runs
-- meanwhile, and moves what every write checks (identity_settings_are).

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

-- Adds digests to the tenant's suppressed values and moves its blocked list to the next
-- version (a tenant's first change copies the defaults to its own rows, as
-- identity_change_blocked does). The caller holds the tenant's lock alone.
CREATE FUNCTION identity_suppress(p_tenant text, p_kinds text[], p_digests bytea[])
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v bigint;
BEGIN
    INSERT INTO identity_suppressed (tenant_id, kind, digest)
    SELECT p_tenant, k, d FROM unnest(p_kinds, p_digests) AS x(k, d)
    ON CONFLICT DO NOTHING;
    v := coalesce((SELECT t.blocked_version FROM identity_tenant AS t
                   WHERE t.tenant_id = p_tenant), 0);
    IF v = 0 THEN
        INSERT INTO identity_blocked (tenant_id, kind, pattern, value, created_at)
        SELECT p_tenant, b.kind, b.pattern, b.value, b.created_at
        FROM identity_blocked AS b WHERE b.tenant_id = '*';
    END IF;
    INSERT INTO identity_tenant AS t (tenant_id, blocked_version) VALUES (p_tenant, v + 1)
    ON CONFLICT (tenant_id)
    DO UPDATE SET blocked_version = excluded.blocked_version, updated_at = clock_timestamp();
END
$$;
