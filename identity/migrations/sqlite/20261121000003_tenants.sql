-- Tenants: one store serves many shops. Every row, record, identifier and noted change belongs
-- to one tenant, and every key and index leads with it, so a tenant's calls read only its own
-- data. Existing data moves into the tenant 'default', which callers that name none use.
-- (contact keeps `id` as its rowid key: ids stay unique across tenants.)

ALTER TABLE contact ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default';
DROP INDEX IF EXISTS contact_email_idx;
DROP INDEX IF EXISTS contact_phone_number_idx;
DROP INDEX IF EXISTS contact_linked_id_idx;
CREATE INDEX contact_email_idx ON contact (tenant_id, email) WHERE deleted_at IS NULL;
CREATE INDEX contact_phone_number_idx ON contact (tenant_id, phone_number) WHERE deleted_at IS NULL;
CREATE INDEX contact_linked_id_idx ON contact (tenant_id, linked_id) WHERE deleted_at IS NULL;

CREATE TABLE identity_customer_new (
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
    PRIMARY KEY (tenant_id, primary_id)
);
INSERT INTO identity_customer_new
SELECT 'default', primary_id, version, created_at, last_row_at, emails, email_rows, phones,
       phone_rows, primary_has_email, primary_has_phone, secondary_ids, updated_at
FROM identity_customer;
DROP TABLE identity_customer;
ALTER TABLE identity_customer_new RENAME TO identity_customer;

CREATE TABLE identity_identifier_new (
    tenant_id   TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('email', 'phone')),
    value       TEXT NOT NULL,
    customer_id INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, kind, value)
) WITHOUT ROWID;
INSERT INTO identity_identifier_new
SELECT 'default', kind, value, customer_id FROM identity_identifier;
DROP TABLE identity_identifier;
ALTER TABLE identity_identifier_new RENAME TO identity_identifier;
CREATE INDEX identity_identifier_customer_idx ON identity_identifier (tenant_id, customer_id);

ALTER TABLE identity_pending ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default';
CREATE INDEX identity_pending_tenant_idx ON identity_pending (tenant_id, id);

-- The triggers note each change in the tenant of the row; a row moved to another tenant leaves
-- the old one (as a delete) and joins the new one (as an insert).
DROP TRIGGER identity_note_insert;
DROP TRIGGER identity_note_update;
DROP TRIGGER identity_note_delete;

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
