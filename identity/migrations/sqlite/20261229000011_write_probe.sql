-- One row that a readiness probe rewrites (64 KiB) after the storage refused a write, to learn
-- whether it takes writes again: it holds nothing else, and nothing reads it.
CREATE TABLE IF NOT EXISTS identity_probe (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    filler BLOB NOT NULL
);
