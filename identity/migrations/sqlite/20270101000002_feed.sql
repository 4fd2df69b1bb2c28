-- Change feed (issue 32): every event of a tenant gets a position in the tenant's feed. SQLite
-- has one writer at a time, so an event's position, the tenant's highest plus one, is taken in
-- commit order: a reader of the events after position p never misses one that commits later.

ALTER TABLE identity_event ADD COLUMN position INTEGER;
-- a split's event on the customer it was split from: the rows that stayed with it
ALTER TABLE identity_event ADD COLUMN kept_ids TEXT;

UPDATE identity_event SET position = n.position
FROM (SELECT id, row_number() OVER (PARTITION BY tenant_id ORDER BY id) AS position
      FROM identity_event) AS n
WHERE identity_event.id = n.id;

CREATE UNIQUE INDEX identity_event_position_idx ON identity_event (tenant_id, position);

-- The highest position retention has pruned, per tenant: a cursor below it is gone, and a
-- tenant whose events were all pruned numbers on from it; pruned_before, the time before which
-- its events were pruned (what history says it no longer tells).
CREATE TABLE identity_feed_floor (
    tenant_id     TEXT PRIMARY KEY,
    position      INTEGER NOT NULL,
    pruned_before TEXT
);
