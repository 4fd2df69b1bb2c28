-- The SQLite schema of identity, whole: every table, index and trigger. Databases made by
-- earlier builds (their migrations were squashed into this file) are refused by `migrate` and
-- move their data instead (store.rs). Timestamps are RFC 3339 text in UTC.

-- ---------------------------------------------------------------------------------------------
-- Rows

-- The contact table: one row per (email, phone) combination seen; rows sharing an email or a
-- phone form one customer, whose oldest row is the primary and every other row links to it.
-- Every row belongs to one tenant (one store serves many shops; callers that name none use
-- 'default'), and every index leads with it, so a tenant's calls read only its own data.
-- `id` stays the rowid key: ids are unique across tenants.
CREATE TABLE contact (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    email           TEXT,
    phone_number    TEXT,
    linked_id       INTEGER REFERENCES contact (id),
    link_precedence TEXT NOT NULL CHECK (link_precedence IN ('primary', 'secondary')),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    deleted_at      TEXT,
    tenant_id       TEXT NOT NULL DEFAULT 'default',
    CONSTRAINT contact_has_identifier CHECK (email IS NOT NULL OR phone_number IS NOT NULL),
    CONSTRAINT contact_link_matches_precedence
        CHECK ((link_precedence = 'primary') = (linked_id IS NULL))
);

CREATE INDEX contact_email_idx ON contact (tenant_id, email) WHERE deleted_at IS NULL;
CREATE INDEX contact_phone_number_idx ON contact (tenant_id, phone_number) WHERE deleted_at IS NULL;
CREATE INDEX contact_linked_id_idx ON contact (tenant_id, linked_id) WHERE deleted_at IS NULL;
-- Deleting a row makes SQLite look for rows that link to it (linked_id REFERENCES contact (id),
-- with foreign keys on): only an index led by linked_id can answer, and the one on
-- (tenant_id, linked_id) of visible rows is neither, so without this each deleted row scanned
-- every row (an erase of 20,000 rows took 49 s).
CREATE INDEX contact_linked_to_idx ON contact (linked_id);

-- ---------------------------------------------------------------------------------------------
-- The identity graph: records derived from the contact rows, changed in the same transaction as
-- the rows (by the library), so that a returning customer is answered without reading its rows.
-- contact stays the data model and the source of truth.

-- One record per customer: its answer, ready. Lists are in answer order: values separated by
-- a newline (no email or phone can contain one), row ids by commas; `*_rows` hold, per value,
-- the first row that carries it. Every whole write of a record draws a new base_seq from
-- identity_base_seq (never reused, and distinct per customer), so that a process may hold a
-- decoded base and know it current by its number alone (store/sqlite/bases.rs).
CREATE TABLE identity_customer (
    tenant_id         TEXT NOT NULL,
    primary_id        INTEGER NOT NULL,
    version           INTEGER NOT NULL,
    created_at        TEXT NOT NULL,
    last_row_at       TEXT NOT NULL,
    emails            TEXT NOT NULL,
    email_rows        TEXT NOT NULL,
    phones            TEXT NOT NULL,
    phone_rows        TEXT NOT NULL,
    primary_has_email INTEGER NOT NULL,
    primary_has_phone INTEGER NOT NULL,
    secondary_ids     TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    base_seq          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, primary_id)
);

CREATE TABLE identity_base_seq (n INTEGER NOT NULL);
INSERT INTO identity_base_seq (n) VALUES (0);

-- Rows added to a customer since its record was last written whole (its base): adding a row
-- appends one small tail row here instead of rewriting the record, whose lists grow with the
-- customer (SQLite rewrites a whole row on any update); every 32nd addition folds the tail
-- into the base. A tail row carries the record's version and last_row_at (Unix nanoseconds)
-- after it, the row's id (a new secondary) and the values it brought to the customer. A record
-- is its base row with its tail rows applied in seq order.
CREATE TABLE identity_customer_tail (
    tenant_id    TEXT NOT NULL,
    primary_id   INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    version      INTEGER NOT NULL,
    last_row_at  INTEGER NOT NULL,
    secondary_id INTEGER NOT NULL,
    email        TEXT,
    phone        TEXT,
    PRIMARY KEY (tenant_id, primary_id, seq)
) WITHOUT ROWID;

-- a record deleted takes its tail with it (a whole rewrite, INSERT OR REPLACE, clears the tail
-- itself: REPLACE does not fire delete triggers)
CREATE TRIGGER identity_customer_tail_drop AFTER DELETE ON identity_customer
BEGIN
    DELETE FROM identity_customer_tail
    WHERE tenant_id = OLD.tenant_id AND primary_id = OLD.primary_id;
END;

-- One record per distinct visible email and phone, naming the customer that holds it: the
-- unique key makes "no value in two customers" (I3) a property of the database.
CREATE TABLE identity_identifier (
    tenant_id   TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('email', 'phone')),
    value       TEXT NOT NULL,
    customer_id INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, kind, value)
) WITHOUT ROWID;
CREATE INDEX identity_identifier_customer_idx ON identity_identifier (tenant_id, customer_id);

-- ---------------------------------------------------------------------------------------------
-- Changes made outside the library

-- Changes made to contact outside the library (by hand in SQL), noted by the triggers below and
-- applied to the records before the next answer. A row with no contact_id means "everything".
CREATE TABLE identity_pending (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    contact_id    INTEGER,
    old_linked_id INTEGER,
    new_linked_id INTEGER,
    old_email     TEXT,
    new_email     TEXT,
    old_phone     TEXT,
    new_phone     TEXT,
    tenant_id     TEXT NOT NULL DEFAULT 'default'
);
CREATE INDEX identity_pending_tenant_idx ON identity_pending (tenant_id, id);

-- 1 while the library itself writes contact (inside its own write transaction, which SQLite
-- grants to one connection at a time), so that the triggers note only other writers.
CREATE TABLE identity_writer (active INTEGER NOT NULL);
INSERT INTO identity_writer (active) VALUES (0);

-- The triggers note each change in the tenant of the row; a row moved to another tenant leaves
-- the old one (as a delete) and joins the new one (as an insert).
CREATE TRIGGER identity_note_insert AFTER INSERT ON contact
WHEN (SELECT active FROM identity_writer) = 0
BEGIN
    INSERT INTO identity_pending (tenant_id, contact_id, new_linked_id, new_email, new_phone)
    VALUES (NEW.tenant_id, NEW.id, NEW.linked_id, NEW.email, NEW.phone_number);
END;

CREATE TRIGGER identity_note_update AFTER UPDATE ON contact
WHEN (SELECT active FROM identity_writer) = 0
    AND (OLD.email IS NOT NEW.email OR OLD.phone_number IS NOT NEW.phone_number
         OR OLD.linked_id IS NOT NEW.linked_id OR OLD.link_precedence IS NOT NEW.link_precedence
         OR OLD.created_at IS NOT NEW.created_at OR OLD.deleted_at IS NOT NEW.deleted_at
         OR OLD.id IS NOT NEW.id OR OLD.tenant_id IS NOT NEW.tenant_id)
BEGIN
    INSERT INTO identity_pending
        (tenant_id, contact_id, old_linked_id, new_linked_id, old_email, new_email, old_phone,
         new_phone)
    SELECT NEW.tenant_id, NEW.id, OLD.linked_id, NEW.linked_id, OLD.email, NEW.email,
           OLD.phone_number, NEW.phone_number
    WHERE OLD.tenant_id IS NEW.tenant_id;
    INSERT INTO identity_pending (tenant_id, contact_id)
    SELECT NEW.tenant_id, OLD.id WHERE OLD.id IS NOT NEW.id AND OLD.tenant_id IS NEW.tenant_id;
    INSERT INTO identity_pending (tenant_id, contact_id, old_linked_id, old_email, old_phone)
    SELECT OLD.tenant_id, OLD.id, OLD.linked_id, OLD.email, OLD.phone_number
    WHERE OLD.tenant_id IS NOT NEW.tenant_id;
    INSERT INTO identity_pending (tenant_id, contact_id, new_linked_id, new_email, new_phone)
    SELECT NEW.tenant_id, NEW.id, NEW.linked_id, NEW.email, NEW.phone_number
    WHERE OLD.tenant_id IS NOT NEW.tenant_id;
END;

CREATE TRIGGER identity_note_delete AFTER DELETE ON contact
WHEN (SELECT active FROM identity_writer) = 0
BEGIN
    INSERT INTO identity_pending (tenant_id, contact_id, old_linked_id, old_email, old_phone)
    VALUES (OLD.tenant_id, OLD.id, OLD.linked_id, OLD.email, OLD.phone_number);
END;

-- ---------------------------------------------------------------------------------------------
-- Tenant settings. Each changes only in a write transaction (`BEGIN IMMEDIATE`, which every
-- identify also takes), and every write re-reads them under that lock. No row: the defaults.
--   phone_region: the region (ISO 3166 alpha-2) the tenant's national phone numbers are read in;
--     the library then stores and matches every number of the tenant in E.164. The setting
--     lives here, so every process agrees; it changes only while the tenant has no contact rows.
--   blocked_version: the version of the tenant's blocked list (0: the defaults, tenant '*' of
--     identity_blocked). Changing the list, suppressing values (erase) or changing the caps
--     moves it, so no write planned under the old screening commits after the change.
--   max_emails, max_phones: per-customer caps on distinct emails and phone numbers (NULL: none).
CREATE TABLE identity_tenant_settings (
    tenant_id       TEXT PRIMARY KEY NOT NULL,
    phone_region    TEXT CHECK (phone_region GLOB '[A-Z][A-Z]'),
    updated_at      TEXT NOT NULL,
    blocked_version INTEGER NOT NULL DEFAULT 0,
    max_emails      INTEGER,
    max_phones      INTEGER
) WITHOUT ROWID;

-- ---------------------------------------------------------------------------------------------
-- Governance

-- Merge protection: each tenant's blocked values (exact normalized values, or patterns), which a
-- request never stores and never matches. Tenant '*' (not a valid tenant id) holds the defaults:
-- the list of every tenant whose blocked_version is 0. A tenant's first change copies them to
-- its own rows; every change bumps its blocked_version.
CREATE TABLE identity_blocked (
    tenant_id  TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('email', 'phone')),
    pattern    INTEGER NOT NULL CHECK (pattern IN (0, 1)),
    value      TEXT NOT NULL CHECK (length(value) BETWEEN 1 AND 500),
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, kind, pattern, value)
) WITHOUT ROWID;

INSERT INTO identity_blocked (tenant_id, kind, pattern, value, created_at) VALUES
    ('*', 'email', 1, '^(null|undefined|none|nan|unknown|anonymous|guest|noreply|no-reply|donotreply|do-not-reply)@', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ('*', 'email', 0, 'test@test.com', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ('*', 'phone', 1, '^\+?(0{6,}|1{6,}|2{6,}|3{6,}|4{6,}|5{6,}|6{6,}|7{6,}|8{6,}|9{6,})$', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ('*', 'phone', 1, '^\+?1234567890$', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

-- History: every change to a tenant's customers, appended by the write transaction that makes
-- it (a row created and the values it joined through, two customers merged and the request
-- that joined them, a blocked-list change). customer_id is the customer's primary at the time;
-- NULL for a change of the tenant's own (its blocked list). Imported rows are recorded once as
-- 'existing', in the order of their age.
CREATE TABLE identity_event (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL,
    customer_id INTEGER,
    kind        TEXT NOT NULL,
    contact_id  INTEGER,
    contact_ids TEXT,
    email       TEXT,
    phone       TEXT,
    pattern     TEXT,
    via         TEXT,
    at          TEXT NOT NULL
);

CREATE INDEX identity_event_customer_idx ON identity_event (tenant_id, customer_id, id);

-- Split: pairs of rows whose customers must never merge again. A split adds the primaries of
-- its two parts (and each part with every customer the split customer was kept apart from);
-- a merge is withheld when a pair has a row in each customer. Rows, not customers: a pair
-- follows its rows through later merges.
CREATE TABLE identity_kept_apart (
    tenant_id  TEXT NOT NULL,
    a_id       INTEGER NOT NULL,
    b_id       INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, a_id, b_id)
);

CREATE INDEX identity_kept_apart_b_idx ON identity_kept_apart (tenant_id, b_id);

-- Erase: a receipt per erased row (so erasing again by any of its ids answers the same
-- receipt), the store's suppression secret (made by the first erase that suppresses; the first
-- insert wins), and each tenant's suppressed values as HMAC-SHA256 digests under it, which
-- screening treats as blocked. Suppressing bumps the tenant's blocked_version, as a change of
-- the blocked list does, so no write screened before it commits after it.
CREATE TABLE identity_erasure (
    tenant_id   TEXT NOT NULL,
    contact_id  INTEGER NOT NULL,
    customer_id INTEGER NOT NULL,
    suppressed  INTEGER NOT NULL,
    erased_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, contact_id)
);

CREATE INDEX identity_erasure_customer_idx ON identity_erasure (tenant_id, customer_id);

CREATE TABLE identity_secret (
    singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
    secret     BLOB NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE identity_suppressed (
    tenant_id  TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('email', 'phone')),
    digest     BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, kind, digest)
) WITHOUT ROWID;

-- The erasure log in the database: each erase's record (its receipt, every row it deleted with
-- the row's time of creation, the digests it suppressed and the fingerprint of their secret;
-- no email or phone number), as the line an erasure log file holds. Exported and applied again
-- to a restored backup (Identity::erasures, Identity::reapply_erasures).
CREATE TABLE identity_erasure_record (
    tenant_id   TEXT NOT NULL,
    customer_id INTEGER NOT NULL,
    erased_at   TEXT NOT NULL,
    record      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, customer_id)
);

-- One row that a readiness probe rewrites (64 KiB) after the storage refused a write, to learn
-- whether it takes writes again: it holds nothing else, and nothing reads it.
CREATE TABLE identity_probe (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    filler BLOB NOT NULL
);

-- ---------------------------------------------------------------------------------------------
-- Long writes

-- A long erase or import runs in steps of bounded size, each its own write transaction, so that
-- the one writer SQLite has serves every other tenant between them (one transaction held it
-- for the whole job: other tenants' writes timed out). While a tenant has a job, its other
-- calls wait for it, since they would see it half done; the row says what is left, so that a
-- job whose process died is finished (an erase) or undone (an import) by the next call that
-- finds it without progress. Each step writes only where it got to (`position`) in this small
-- row; `plan` is always '': the plan has a row of its own (identity_tenant_job_plan), written
-- once when the job starts, since rewriting it with each step made an erase grow with the
-- square of its size (7.9 s for 40,000 rows against 0.9 s for 10,000).
CREATE TABLE identity_tenant_job (
    tenant_id   TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('erase', 'import')),
    owner       INTEGER NOT NULL,
    started_ms  INTEGER NOT NULL,
    progress_ms INTEGER NOT NULL,
    plan        TEXT NOT NULL,
    position    TEXT
) WITHOUT ROWID;

CREATE TABLE identity_tenant_job_plan (
    tenant_id TEXT PRIMARY KEY,
    plan      TEXT NOT NULL
);
