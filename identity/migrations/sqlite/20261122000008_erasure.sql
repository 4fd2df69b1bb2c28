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
