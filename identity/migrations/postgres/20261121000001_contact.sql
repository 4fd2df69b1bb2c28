-- The contact table: one row per (email, phone) combination seen; rows sharing an email or a
-- phone form one customer, whose oldest row is the primary and every other row links to it.
CREATE TABLE IF NOT EXISTS contact (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email           text,
    phone_number    text,
    linked_id       bigint REFERENCES contact (id),
    link_precedence text NOT NULL CHECK (link_precedence IN ('primary', 'secondary')),
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    deleted_at      timestamptz,
    CONSTRAINT contact_has_identifier CHECK (email IS NOT NULL OR phone_number IS NOT NULL),
    CONSTRAINT contact_link_matches_precedence
        CHECK ((link_precedence = 'primary') = (linked_id IS NULL)),
    -- finite timestamps within years 1-9999, which every client can represent
    CONSTRAINT contact_created_at_in_range
        CHECK (created_at >= '0001-01-01 00:00:00+00' AND created_at < '9999-12-31 00:00:00+00'),
    CONSTRAINT contact_updated_at_in_range
        CHECK (updated_at >= '0001-01-01 00:00:00+00' AND updated_at < '9999-12-31 00:00:00+00')
);

CREATE INDEX IF NOT EXISTS contact_email_idx ON contact (email) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS contact_phone_number_idx ON contact (phone_number) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS contact_linked_id_idx ON contact (linked_id) WHERE deleted_at IS NULL;
