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

-- The tenant's settings, all a request is read under, in one call (on Citus, one call on the
-- tenant's node): its region, blocked-list version and entries (the defaults while the version
-- is 0), its suppressed values with the store's secret (NULL when it has none), its caps.
DROP FUNCTION identity_tenant_settings(text);
CREATE FUNCTION identity_tenant_state(p_tenant text)
RETURNS TABLE (region text, blocked_version bigint, kinds text[], patterns boolean[],
               vals text[], suppressed_kinds text[], digests bytea[], secret bytea,
               max_emails bigint, max_phones bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT t.phone_region, t.blocked_version, t.max_emails, t.max_phones
    INTO region, blocked_version, max_emails, max_phones
    FROM identity_tenant AS t WHERE t.tenant_id = p_tenant;
    blocked_version := coalesce(blocked_version, 0);
    -- two statements, not one over both tables: under Citus's forced delegation each statement
    -- must name the tenant, and a union with the defaults' reference table is refused
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
    SELECT coalesce(array_agg(x.kind ORDER BY x.kind, x.digest), '{}'),
           coalesce(array_agg(x.digest ORDER BY x.kind, x.digest), '{}')
    INTO suppressed_kinds, digests
    FROM identity_suppressed AS x WHERE x.tenant_id = p_tenant;
    IF cardinality(suppressed_kinds) > 0 THEN
        secret := (SELECT k.secret FROM identity_secret AS k);
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
    INSERT INTO identity_tenant AS t (tenant_id, blocked_version, updated_at)
    VALUES (p_tenant, v + 1, clock_timestamp())
    ON CONFLICT (tenant_id)
    DO UPDATE SET blocked_version = excluded.blocked_version, updated_at = excluded.updated_at;
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

-- The read ends with the tenant's phone region and blocked-list version as stored (the store
-- joined them to the call's answer: a query that Citus cannot send to one node as a whole).
ALTER TYPE identity_read_row ADD ATTRIBUTE phone_region text, ADD ATTRIBUTE blocked_version bigint;

-- The SQL functions that read tables become PL/pgSQL: Citus runs a PL/pgSQL function's
-- statements on the tenant's node, but not a SQL function's (parameters of SQL functions that
-- read distributed tables). Each body is as it was but for that (and kept-apart pairs' rows
-- read by their tenant's key); the read chooses the lists it sends with CASE instead of LATERAL
-- joins (which Citus answered with NULL lists).
CREATE OR REPLACE FUNCTION identity_read_known(p_tenant text, p_email text, p_phone text,
                                               p_versions bigint[], p_bases bigint[])
RETURNS SETOF identity_read_row
LANGUAGE plpgsql STABLE AS $$
BEGIN
    -- each record's base lists unless its base is held, its tail unless its version is held
    -- (a list not sent is not read from TOAST either)
    RETURN QUERY
    SELECT coalesce(s.pending, 0) > 0,
           e.customer_id, p.customer_id,
           c.version, c.base_version, c.created_at, c.last_row_at, c.primary_has_email,
           c.primary_has_phone,
           CASE WHEN c.base_version <> ALL(p_bases) THEN c.emails END,
           CASE WHEN c.base_version <> ALL(p_bases) THEN c.email_rows END,
           CASE WHEN c.base_version <> ALL(p_bases) THEN c.phones END,
           CASE WHEN c.base_version <> ALL(p_bases) THEN c.phone_rows END,
           CASE WHEN c.base_version <> ALL(p_bases) THEN c.secondary_ids END,
           CASE WHEN c.version <> ALL(p_versions) THEN c.tail_emails END,
           CASE WHEN c.version <> ALL(p_versions) THEN c.tail_email_rows END,
           CASE WHEN c.version <> ALL(p_versions) THEN c.tail_phones END,
           CASE WHEN c.version <> ALL(p_versions) THEN c.tail_phone_rows END,
           CASE WHEN c.version <> ALL(p_versions) THEN c.tail_secondary_ids END,
           d.version, d.base_version, d.created_at, d.last_row_at, d.primary_has_email,
           d.primary_has_phone,
           CASE WHEN d.base_version <> ALL(p_bases) THEN d.emails END,
           CASE WHEN d.base_version <> ALL(p_bases) THEN d.email_rows END,
           CASE WHEN d.base_version <> ALL(p_bases) THEN d.phones END,
           CASE WHEN d.base_version <> ALL(p_bases) THEN d.phone_rows END,
           CASE WHEN d.base_version <> ALL(p_bases) THEN d.secondary_ids END,
           CASE WHEN d.version <> ALL(p_versions) THEN d.tail_emails END,
           CASE WHEN d.version <> ALL(p_versions) THEN d.tail_email_rows END,
           CASE WHEN d.version <> ALL(p_versions) THEN d.tail_phones END,
           CASE WHEN d.version <> ALL(p_versions) THEN d.tail_phone_rows END,
           CASE WHEN d.version <> ALL(p_versions) THEN d.tail_secondary_ids END,
           s.phone_region, s.blocked_version
    FROM (SELECT 1) AS one
    LEFT JOIN identity_tenant AS s ON s.tenant_id = p_tenant
    LEFT JOIN identity_identifier AS e
           ON e.tenant_id = p_tenant AND e.kind = 'email' AND e.value = p_email
    LEFT JOIN identity_identifier AS p
           ON p.tenant_id = p_tenant AND p.kind = 'phone' AND p.value = p_phone
    LEFT JOIN identity_customer AS c ON c.tenant_id = p_tenant AND c.primary_id = e.customer_id
    LEFT JOIN identity_customer AS d
           ON d.tenant_id = p_tenant AND d.primary_id = p.customer_id
          AND p.customer_id IS DISTINCT FROM e.customer_id;
END
$$;

CREATE OR REPLACE FUNCTION identity_kept_apart(p_tenant text, p_x bigint, p_y bigint)
RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN EXISTS (
        SELECT 1 FROM identity_kept_apart AS k
        JOIN contact AS a ON a.tenant_id = p_tenant AND a.id = k.a_id
        JOIN contact AS b ON b.tenant_id = p_tenant AND b.id = k.b_id
        WHERE k.tenant_id = p_tenant
          AND ((coalesce(a.linked_id, a.id) = p_x AND coalesce(b.linked_id, b.id) = p_y)
            OR (coalesce(a.linked_id, a.id) = p_y AND coalesce(b.linked_id, b.id) = p_x)));
END
$$;

CREATE OR REPLACE FUNCTION identity_count_pending(p_tenant text, p_count bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO identity_tenant AS t (tenant_id, pending) VALUES (p_tenant, p_count)
    ON CONFLICT (tenant_id) DO UPDATE SET pending = t.pending + p_count;
END
$$;

CREATE OR REPLACE FUNCTION identity_feed_head(p_tenant text) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN coalesce(
        (SELECT e.position FROM identity_event AS e WHERE e.tenant_id = p_tenant
         ORDER BY e.position DESC LIMIT 1),
        (SELECT f.position FROM identity_feed_floor AS f WHERE f.tenant_id = p_tenant),
        0);
END
$$;

-- The event numbering trigger reads its own tenant's rows only. On Citus it fires on the shard
-- an event is written to, and a query of the distributed table from there would be a
-- distributed query nested in a shard's (refused): it reads the shard, and the co-located
-- shard of the floor, by name instead. On PostgreSQL the table is its own (the static
-- statements, as before).
CREATE OR REPLACE FUNCTION identity_event_position() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    last bigint;
    floor_shard text;
BEGIN
    IF TG_TABLE_NAME = 'identity_event' THEN
        SELECT e.position INTO last FROM identity_event AS e
        WHERE e.tenant_id = NEW.tenant_id ORDER BY e.position DESC LIMIT 1;
        IF last IS NULL THEN
            last := coalesce((SELECT f.position FROM identity_feed_floor AS f
                              WHERE f.tenant_id = NEW.tenant_id), 0);
        END IF;
    ELSE
        EXECUTE format('SELECT e.position FROM %I.%I AS e WHERE e.tenant_id = $1
                        ORDER BY e.position DESC LIMIT 1', TG_TABLE_SCHEMA, TG_TABLE_NAME)
        INTO last USING NEW.tenant_id;
        IF last IS NULL THEN
            EXECUTE 'SELECT shard_name(''identity_feed_floor''::regclass,
                         get_shard_id_for_distribution_column(''identity_feed_floor'', $1))'
            INTO floor_shard USING NEW.tenant_id;
            EXECUTE format('SELECT f.position FROM %s AS f WHERE f.tenant_id = $1', floor_shard)
            INTO last USING NEW.tenant_id;
            last := coalesce(last, 0);
        END IF;
    END IF;
    NEW.position := last + 1;
    RETURN NEW;
END
$$;

-- A merge as in the baseline, its rows' and records' times the statement's: Citus refuses a
-- volatile function (clock_timestamp) in an UPDATE of a distributed table. A merge is one
-- statement, so its rows get the time it started.
CREATE OR REPLACE FUNCTION identity_merge(p_tenant text, p_region text, p_blocked bigint, p_kept bigint,
                               p_kept_version bigint, p_absorbed bigint,
                               p_absorbed_version bigint, p_relink bigint[], p_emails text[],
                               p_email_rows bigint[], p_phones text[], p_phone_rows bigint[],
                               p_secondary_ids bigint[], p_last_row_at timestamptz,
                               p_email text, p_phone text)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    ready boolean;
    v bigint;
BEGIN
    ready := identity_begin_write(p_tenant);
    IF NOT identity_settings_are(p_tenant, p_region, p_blocked) THEN
        RETURN -3;
    END IF;
    IF NOT ready THEN
        RETURN -2;
    END IF;
    IF identity_kept_apart(p_tenant, p_kept, p_absorbed) THEN
        IF (SELECT count(*) FROM identity_customer
            WHERE tenant_id = p_tenant
              AND ((primary_id = p_kept AND version = p_kept_version)
                   OR (primary_id = p_absorbed AND version = p_absorbed_version))) = 2 THEN
            RETURN -4;
        END IF;
        RETURN -1;
    END IF;
    PERFORM 1 FROM identity_customer
    WHERE tenant_id = p_tenant AND primary_id IN (p_kept, p_absorbed)
    ORDER BY primary_id FOR UPDATE;
    IF (SELECT count(*) FROM identity_customer
        WHERE tenant_id = p_tenant
          AND ((primary_id = p_kept AND version = p_kept_version)
               OR (primary_id = p_absorbed AND version = p_absorbed_version))) <> 2 THEN
        RETURN -1;
    END IF;
    UPDATE contact
    SET linked_id = p_kept, link_precedence = 'secondary', updated_at = statement_timestamp()
    WHERE tenant_id = p_tenant AND id = ANY(p_relink) AND deleted_at IS NULL;
    UPDATE identity_identifier SET customer_id = p_kept
    WHERE tenant_id = p_tenant AND customer_id = p_absorbed;
    DELETE FROM identity_customer WHERE tenant_id = p_tenant AND primary_id = p_absorbed;
    v := nextval('identity_version_seq');
    UPDATE identity_customer
    SET emails = p_emails, email_rows = p_email_rows, phones = p_phones, phone_rows = p_phone_rows,
        secondary_ids = p_secondary_ids, tail_emails = '{}', tail_email_rows = '{}',
        tail_phones = '{}', tail_phone_rows = '{}', tail_secondary_ids = '{}',
        last_row_at = p_last_row_at, version = v, base_version = v,
        updated_at = statement_timestamp()
    WHERE tenant_id = p_tenant AND primary_id = p_kept;
    INSERT INTO identity_event (tenant_id, customer_id, kind, contact_id, contact_ids,
                                email, phone)
    VALUES (p_tenant, p_kept, 'merged', p_absorbed, p_relink, p_email, p_phone);
    RETURN v;
END
$$;
