-- One row that a readiness probe rewrites (64 KiB) after the storage refused a write, to learn
-- whether it takes writes again: it holds nothing else, and nothing reads it. Stored out of
-- line and uncompressed, so a rewrite needs new pages as a real write would.
CREATE TABLE IF NOT EXISTS identity_probe (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    filler BYTEA NOT NULL
);
ALTER TABLE identity_probe ALTER COLUMN filler SET STORAGE EXTERNAL;
