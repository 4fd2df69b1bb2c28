-- Merge protection: each tenant's blocked values (exact normalized values, or patterns), which a
-- request never stores and never matches. Tenant '*' (not a valid tenant id) holds the defaults:
-- the list of every tenant whose blocked_version is 0. A tenant's first change copies them to
-- its own rows; every change bumps its blocked_version, in the write transaction that every
-- identify also takes, and every write re-reads the version under that lock.
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

ALTER TABLE identity_tenant_settings ADD COLUMN blocked_version INTEGER NOT NULL DEFAULT 0;
