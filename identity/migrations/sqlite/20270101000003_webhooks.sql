-- Webhooks (issue 32): endpoints a tenant's feed is delivered to, and their attempts (see the
-- PostgreSQL migration of the same name). Times are milliseconds since 1970 (UTC).

CREATE TABLE identity_webhook (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       TEXT NOT NULL,
    url             TEXT NOT NULL,
    types           TEXT,
    secret          TEXT NOT NULL,
    delivered       INTEGER NOT NULL,
    state           TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'failing')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until     INTEGER,
    epoch           INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX identity_webhook_tenant_idx ON identity_webhook (tenant_id, id);

CREATE TABLE identity_webhook_delivery (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id      INTEGER NOT NULL REFERENCES identity_webhook (id) ON DELETE CASCADE,
    event_id        INTEGER NOT NULL,
    position        INTEGER NOT NULL,
    attempt         INTEGER NOT NULL,
    at              INTEGER NOT NULL,
    status          INTEGER,
    error           TEXT,
    duration_ms     INTEGER NOT NULL,
    next_attempt_at INTEGER
);

CREATE INDEX identity_webhook_delivery_idx ON identity_webhook_delivery (webhook_id, id);
CREATE INDEX identity_webhook_delivery_at_idx ON identity_webhook_delivery (at);
