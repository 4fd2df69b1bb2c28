-- Every key leads to one tenant (issue 34), so the schema can be distributed by tenant_id on
-- Citus with each tenant's rows, and each tenant's statements, on one node:
--   * a table with a tenant_id column has tenant_id in its primary key, in every unique key and
--     on both sides of every foreign key (identity/tests/schema.rs checks it on every build);
--   * a table without one holds nothing of any tenant (it becomes a reference table, copied to
--     every node): the store's secret, the readiness probe's row, and the blocked-list defaults;
--   * every function a tenant's operation calls takes the tenant first (p_tenant), the argument
--     Citus routes a call by.

-- Events: numbered by one identity sequence (ids stay unique across tenants), keyed per tenant.
ALTER TABLE identity_event DROP CONSTRAINT identity_event_pkey;
ALTER TABLE identity_event ADD CONSTRAINT identity_event_pkey PRIMARY KEY (tenant_id, id);

-- Webhooks: an endpoint is its tenant's, and so is each of its attempts.
ALTER TABLE identity_webhook_delivery ADD COLUMN tenant_id text;
UPDATE identity_webhook_delivery AS d SET tenant_id = w.tenant_id
FROM identity_webhook AS w WHERE w.id = d.webhook_id;
ALTER TABLE identity_webhook_delivery ALTER COLUMN tenant_id SET NOT NULL;
ALTER TABLE identity_webhook_delivery DROP CONSTRAINT identity_webhook_delivery_webhook_id_fkey;
ALTER TABLE identity_webhook_delivery DROP CONSTRAINT identity_webhook_delivery_pkey;
ALTER TABLE identity_webhook_delivery
    ADD CONSTRAINT identity_webhook_delivery_pkey PRIMARY KEY (tenant_id, id);
ALTER TABLE identity_webhook DROP CONSTRAINT identity_webhook_pkey;
ALTER TABLE identity_webhook ADD CONSTRAINT identity_webhook_pkey PRIMARY KEY (tenant_id, id);
DROP INDEX identity_webhook_tenant_idx;
ALTER TABLE identity_webhook_delivery
    ADD CONSTRAINT identity_webhook_delivery_webhook_id_fkey
    FOREIGN KEY (tenant_id, webhook_id) REFERENCES identity_webhook (tenant_id, id)
    ON DELETE CASCADE;
DROP INDEX identity_webhook_delivery_idx;
CREATE INDEX identity_webhook_delivery_idx
    ON identity_webhook_delivery (tenant_id, webhook_id, id);

-- The blocked-list defaults leave tenant '*' of identity_blocked for a table of their own: a
-- tenant reading them no longer reads another "tenant's" rows (on Citus: another shard).
CREATE TABLE identity_blocked_default (
    kind       text NOT NULL CHECK (kind IN ('email', 'phone')),
    pattern    boolean NOT NULL,
    value      text NOT NULL CHECK (length(value) BETWEEN 1 AND 500),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (kind, pattern, value)
);
INSERT INTO identity_blocked_default (kind, pattern, value, created_at)
SELECT kind, pattern, value, created_at FROM identity_blocked WHERE tenant_id = '*';
DELETE FROM identity_blocked WHERE tenant_id = '*';

-- As in the baseline, reading the defaults from their table.
CREATE OR REPLACE FUNCTION identity_tenant_settings(p_tenant text)
RETURNS TABLE (region text, blocked_version bigint, kinds text[], patterns boolean[],
               vals text[])
LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT t.phone_region, t.blocked_version INTO region, blocked_version
    FROM identity_tenant AS t WHERE t.tenant_id = p_tenant;
    blocked_version := coalesce(blocked_version, 0);
    IF blocked_version = 0 THEN
        SELECT coalesce(array_agg(b.kind ORDER BY b.kind, b.pattern, b.value), '{}'),
               coalesce(array_agg(b.pattern ORDER BY b.kind, b.pattern, b.value), '{}'),
               coalesce(array_agg(b.value ORDER BY b.kind, b.pattern, b.value), '{}')
        INTO kinds, patterns, vals
        FROM identity_blocked_default AS b;
    ELSE
        SELECT coalesce(array_agg(b.kind ORDER BY b.kind, b.pattern, b.value), '{}'),
               coalesce(array_agg(b.pattern ORDER BY b.kind, b.pattern, b.value), '{}'),
               coalesce(array_agg(b.value ORDER BY b.kind, b.pattern, b.value), '{}')
        INTO kinds, patterns, vals
        FROM identity_blocked AS b WHERE b.tenant_id = p_tenant;
    END IF;
    RETURN NEXT;
END
$$;

CREATE OR REPLACE FUNCTION identity_suppress(p_tenant text, p_kinds text[], p_digests bytea[])
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v bigint;
BEGIN
    INSERT INTO identity_suppressed (tenant_id, kind, digest)
    SELECT p_tenant, k, d FROM unnest(p_kinds, p_digests) AS x(k, d)
    ON CONFLICT DO NOTHING;
    v := coalesce((SELECT t.blocked_version FROM identity_tenant AS t
                   WHERE t.tenant_id = p_tenant), 0);
    IF v = 0 THEN
        INSERT INTO identity_blocked (tenant_id, kind, pattern, value, created_at)
        SELECT p_tenant, b.kind, b.pattern, b.value, b.created_at
        FROM identity_blocked_default AS b;
    END IF;
    INSERT INTO identity_tenant AS t (tenant_id, blocked_version) VALUES (p_tenant, v + 1)
    ON CONFLICT (tenant_id)
    DO UPDATE SET blocked_version = excluded.blocked_version, updated_at = clock_timestamp();
END
$$;

-- The tenant's graph lock, alone, to the end of the transaction, for the statements the store
-- sends itself (the SQL functions above take it in their prologue). One function, so that a
-- distributed database runs it where the tenant's other locks are taken (on Citus: on the
-- tenant's worker, as a function distributed by p_tenant).
CREATE FUNCTION identity_lock_tenant(p_tenant text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('identity:graph:' || p_tenant, 0));
    PERFORM set_config('identity.internal', 'on', true);
END
$$;
