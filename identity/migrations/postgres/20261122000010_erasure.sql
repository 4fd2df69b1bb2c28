-- Erase: a receipt per erased row (so erasing again by any of its ids answers the same
-- receipt), the store's suppression secret (made by the first erase that suppresses; the first
-- insert wins), and each tenant's suppressed values as HMAC-SHA256 digests under it, which
-- screening treats as blocked. Suppressing bumps the tenant's blocked_version, as a change of
-- the blocked list does, so no write screened before it commits after it.
CREATE TABLE identity_erasure (
    tenant_id   text NOT NULL,
    contact_id  bigint NOT NULL,
    customer_id bigint NOT NULL,
    suppressed  boolean NOT NULL,
    erased_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, contact_id)
);

CREATE INDEX identity_erasure_customer_idx ON identity_erasure (tenant_id, customer_id);

CREATE TABLE identity_secret (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    secret     bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE identity_suppressed (
    tenant_id  text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('email', 'phone')),
    digest     bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, kind, digest)
);

-- Adds digests to the tenant's suppressed values and moves its blocked list to the next
-- version (a tenant's first change copies the defaults to its own rows, as
-- identity_change_blocked does). The caller holds the tenant's lock alone.
CREATE FUNCTION identity_suppress(p_tenant text, p_kinds text[], p_digests bytea[])
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
        FROM identity_blocked AS b WHERE b.tenant_id = '*';
    END IF;
    INSERT INTO identity_tenant AS t (tenant_id, blocked_version) VALUES (p_tenant, v + 1)
    ON CONFLICT (tenant_id)
    DO UPDATE SET blocked_version = excluded.blocked_version, updated_at = clock_timestamp();
END
$$;
