-- The identity graph: records derived from the contact rows, changed in the same transaction as
-- the rows (by the library), so that a returning customer is answered without reading its rows.
-- contact stays the data model and the source of truth. Room is left for a leading tenant key
-- in every key.

-- One record per customer: its answer, ready. Lists are in answer order: values separated by
-- a newline (no email or phone can contain one), row ids by commas; `*_rows` hold, per value,
-- the first row that carries it.
CREATE TABLE IF NOT EXISTS identity_customer (
    primary_id        INTEGER PRIMARY KEY,
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
    updated_at        TEXT NOT NULL
);

-- One record per distinct visible email and phone, naming the customer that holds it: the
-- unique key makes "no value in two customers" (I3) a property of the database.
CREATE TABLE IF NOT EXISTS identity_identifier (
    kind        TEXT NOT NULL CHECK (kind IN ('email', 'phone')),
    value       TEXT NOT NULL,
    customer_id INTEGER NOT NULL,
    PRIMARY KEY (kind, value)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS identity_identifier_customer_idx ON identity_identifier (customer_id);

-- Changes made to contact outside the library (by hand in SQL), noted by the triggers below and
-- applied to the records before the next answer. A row with no contact_id means "everything".
CREATE TABLE IF NOT EXISTS identity_pending (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    contact_id    INTEGER,
    old_linked_id INTEGER,
    new_linked_id INTEGER,
    old_email     TEXT,
    new_email     TEXT,
    old_phone     TEXT,
    new_phone     TEXT
);

-- 1 while the library itself writes contact (inside its own write transaction, which SQLite
-- grants to one connection at a time), so that the triggers note only other writers.
CREATE TABLE IF NOT EXISTS identity_writer (active INTEGER NOT NULL);
INSERT INTO identity_writer (active) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM identity_writer);

CREATE TRIGGER IF NOT EXISTS identity_note_insert AFTER INSERT ON contact
WHEN (SELECT active FROM identity_writer) = 0
BEGIN
    INSERT INTO identity_pending (contact_id, new_linked_id, new_email, new_phone)
    VALUES (NEW.id, NEW.linked_id, NEW.email, NEW.phone_number);
END;

CREATE TRIGGER IF NOT EXISTS identity_note_update AFTER UPDATE ON contact
WHEN (SELECT active FROM identity_writer) = 0
    AND (OLD.email IS NOT NEW.email OR OLD.phone_number IS NOT NEW.phone_number
         OR OLD.linked_id IS NOT NEW.linked_id OR OLD.link_precedence IS NOT NEW.link_precedence
         OR OLD.created_at IS NOT NEW.created_at OR OLD.deleted_at IS NOT NEW.deleted_at
         OR OLD.id IS NOT NEW.id)
BEGIN
    INSERT INTO identity_pending
        (contact_id, old_linked_id, new_linked_id, old_email, new_email, old_phone, new_phone)
    VALUES (NEW.id, OLD.linked_id, NEW.linked_id, OLD.email, NEW.email, OLD.phone_number,
            NEW.phone_number);
    INSERT INTO identity_pending (contact_id) SELECT OLD.id WHERE OLD.id IS NOT NEW.id;
END;

CREATE TRIGGER IF NOT EXISTS identity_note_delete AFTER DELETE ON contact
WHEN (SELECT active FROM identity_writer) = 0
BEGIN
    INSERT INTO identity_pending (contact_id, old_linked_id, old_email, old_phone)
    VALUES (OLD.id, OLD.linked_id, OLD.email, OLD.phone_number);
END;

-- Existing rows (an upgrade): the records are built by the first repair, at migrate time.
INSERT INTO identity_pending (contact_id)
SELECT NULL WHERE EXISTS (SELECT 1 FROM contact)
    AND NOT EXISTS (SELECT 1 FROM identity_customer);
