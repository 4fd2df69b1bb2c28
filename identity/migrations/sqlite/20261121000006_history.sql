-- History: every change to a tenant's customers, appended by the write transaction that makes
-- it (a row created and the values it joined through, two customers merged and the request
-- that joined them, a blocked-list change). customer_id is the customer's primary at the time;
-- NULL for a change of the tenant's own (its blocked list). Rows that exist now are recorded
-- once as 'existing', in the order of their age.
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

INSERT INTO identity_event (tenant_id, customer_id, kind, contact_id, email, phone, at)
SELECT tenant_id, coalesce(linked_id, id), 'existing', id, email, phone_number, created_at
FROM contact WHERE deleted_at IS NULL ORDER BY created_at, id;
