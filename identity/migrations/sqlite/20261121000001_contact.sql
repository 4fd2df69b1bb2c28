-- The contact table: one row per (email, phone) combination seen; rows sharing an email or a
-- phone form one customer, whose oldest row is the primary and every other row links to it.
-- Timestamps are RFC 3339 text in UTC.
CREATE TABLE IF NOT EXISTS contact (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    email           TEXT,
    phone_number    TEXT,
    linked_id       INTEGER REFERENCES contact (id),
    link_precedence TEXT NOT NULL CHECK (link_precedence IN ('primary', 'secondary')),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    deleted_at      TEXT,
    CONSTRAINT contact_has_identifier CHECK (email IS NOT NULL OR phone_number IS NOT NULL),
    CONSTRAINT contact_link_matches_precedence
        CHECK ((link_precedence = 'primary') = (linked_id IS NULL))
);

CREATE INDEX IF NOT EXISTS contact_email_idx ON contact (email) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS contact_phone_number_idx ON contact (phone_number) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS contact_linked_id_idx ON contact (linked_id) WHERE deleted_at IS NULL;
