-- Distributes the schema by tenant on Citus (docs/scaling.md). Run by `migrate` when the
-- database has the citus extension, after the migrations; every step is skipped when done, so
-- it distributes a fresh database, an existing one, and one distributed by an earlier build.
DO $distribute$
DECLARE
    t text;
    f regprocedure;
BEGIN
    -- processes that migrate at once distribute one at a time; the later ones find it done
    PERFORM pg_advisory_xact_lock(hashtextextended('identity:citus:distribute', 0));
    -- The event numbering trigger reads only its own tenant's rows, from its shard (see
    -- migrations/postgres/*_tenant_keys.sql): Citus calls such a trigger unsafe only in general.
    PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
    -- Changes made to contact by hand in SQL are not noted on Citus (the notes' trigger would
    -- write other tables from a shard): run `identity rebuild` for the tenant after one.
    DROP TRIGGER IF EXISTS identity_note_insert ON contact;
    DROP TRIGGER IF EXISTS identity_note_update ON contact;
    DROP TRIGGER IF EXISTS identity_note_delete ON contact;
    DROP TRIGGER IF EXISTS identity_note_truncate ON contact;
    -- distributing functions in the transaction that distributed tables needs one connection
    -- per node throughout
    PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);

    -- Record versions come from identity_version_seq, which the write functions call on the
    -- worker: as a column default of a distributed table, Citus creates it on every node, each
    -- node drawing from its own range (versions stay unique; they are only ever compared equal).
    ALTER TABLE identity_customer ALTER COLUMN version SET DEFAULT nextval('identity_version_seq');

    -- Tables that hold nothing of any tenant: a copy on every node.
    FOREACH t IN ARRAY ARRAY['identity_blocked_default', 'identity_secret', 'identity_probe'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = t::regclass) THEN
            PERFORM create_reference_table(t);
        END IF;
    END LOOP;

    -- Every table with a tenant_id, by it, co-located with contact (contact first; a table
    -- before the tables that reference it, which alphabetical order gives here).
    FOR t IN
        SELECT c.relname::text FROM pg_class AS c
        JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
        WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
          AND NOT EXISTS (SELECT 1 FROM pg_dist_partition AS p WHERE p.logicalrelid = c.oid)
        ORDER BY c.relname <> 'contact', c.relname
    LOOP
        IF t = 'contact' THEN
            PERFORM create_distributed_table(t, 'tenant_id');
        ELSE
            PERFORM create_distributed_table(t, 'tenant_id', colocate_with => 'contact');
        END IF;
    END LOOP;

    -- Every function a tenant's operation calls, by its tenant: each call runs on the node
    -- that holds the tenant's rows, inside a transaction block too (force_delegation), so the
    -- tenant's graph lock is always taken there, and the ids a function draws are drawn there.
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc AS p
        WHERE p.pronamespace = current_schema()::regnamespace
          AND p.proname LIKE 'identity\_%' AND p.proargnames[1] = 'p_tenant'
          AND NOT EXISTS (
              SELECT 1 FROM pg_dist_object AS o
              WHERE o.classid = 'pg_proc'::regclass AND o.objid = p.oid
                AND o.distribution_argument_index IS NOT NULL)
    LOOP
        PERFORM create_distributed_function(f, 'p_tenant', colocate_with := 'contact',
                                            force_delegation := true);
    END LOOP;
END
$distribute$;
