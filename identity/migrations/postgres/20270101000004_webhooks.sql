-- Webhooks (issue 32): endpoints a tenant's feed is delivered to, and their attempts. What was
-- delivered lives here, so a sender that is killed resumes where it stopped, and a sender
-- holds an endpoint's lease (lease_owner until lease_until, the database's clock) while it
-- delivers, so two senders never deliver to one endpoint in parallel.

CREATE TABLE identity_webhook (
    id              bigserial PRIMARY KEY,
    tenant_id       text NOT NULL,
    url             text NOT NULL,
    -- the event types it receives, joined by ','; NULL: every type
    types           text,
    -- whsec_ and the base64 of the signing key
    secret          text NOT NULL,
    -- the feed position delivered up to (the next event is the first after it)
    delivered       bigint NOT NULL,
    state           text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'failing')),
    -- failed attempts at the next event so far
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    lease_owner     text,
    lease_until     timestamptz,
    -- raised by a replay: a sender's acknowledgement of an earlier run no longer counts
    epoch           bigint NOT NULL DEFAULT 0
);

CREATE INDEX identity_webhook_tenant_idx ON identity_webhook (tenant_id, id);
CREATE INDEX identity_webhook_due_idx ON identity_webhook (next_attempt_at) WHERE state = 'active';

CREATE TABLE identity_webhook_delivery (
    id              bigserial PRIMARY KEY,
    webhook_id      bigint NOT NULL REFERENCES identity_webhook (id) ON DELETE CASCADE,
    -- the event's identity_event.id (its webhook-id is evt_ and this number)
    event_id        bigint NOT NULL,
    position        bigint NOT NULL,
    attempt         integer NOT NULL,
    at              timestamptz NOT NULL,
    status          integer,
    error           text,
    duration_ms     bigint NOT NULL,
    next_attempt_at timestamptz
);

CREATE INDEX identity_webhook_delivery_idx ON identity_webhook_delivery (webhook_id, id);
CREATE INDEX identity_webhook_delivery_at_idx ON identity_webhook_delivery (at);
