-- Distributes the schema by tenant on Citus (docs/scaling.md). Run by `migrate` when the
-- database has the citus extension, after the migrations; every step is skipped when done, so
-- it distributes a fresh database, an existing one, and one distributed by an earlier build.
DO $distribute$
DECLARE
    t text;
    f regprocedure;
    notes text[];
    note text;
BEGIN
    -- processes that migrate at once distribute one at a time; the later ones find it done
    PERFORM pg_advisory_xact_lock(hashtextextended('identity:citus:distribute', 0));
    -- The event numbering trigger reads only its own tenant's rows, from its shard (see
    -- migrations/postgres/*_tenant_keys.sql): Citus calls such a trigger unsafe only in general.
    PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
    -- The triggers that note hand edits of contact write identity_pending and identity_tenant:
    -- copying contact's rows into its shards would fire them before those tables are
    -- distributed. They are set aside (as defined) while contact is distributed, and created
    -- again on the distributed table, where Citus puts them on every shard: each writes its own
    -- tenant's co-located shards, on the same worker.
    IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'contact'::regclass) THEN
        SELECT array_agg(pg_get_triggerdef(g.oid) ORDER BY g.tgname) INTO notes
        FROM pg_trigger AS g
        WHERE g.tgrelid = 'contact'::regclass AND g.tgname LIKE 'identity\_note\_%';
        FOR note IN
            SELECT g.tgname::text FROM pg_trigger AS g
            WHERE g.tgrelid = 'contact'::regclass AND g.tgname LIKE 'identity\_note\_%'
        LOOP
            EXECUTE format('DROP TRIGGER %I ON contact', note);
        END LOOP;
    END IF;
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

    -- A function running on a worker (each call above, the functions it calls, the triggers)
    -- reads and writes its own tenant's shards there, in its transaction: a nesting Citus
    -- refuses by default, for queries that could reach other nodes. Set on each function (and
    -- so on every node), it holds in every session, however old: a pooler's server connections
    -- and the coordinator's cached connections to the workers predate any database setting.
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc AS p
        WHERE p.pronamespace = current_schema()::regnamespace AND p.proname LIKE 'identity\_%'
          AND NOT coalesce('citus.allow_nested_distributed_execution=on' = ANY (p.proconfig),
                           false)
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET citus.allow_nested_distributed_execution = on', f);
    END LOOP;

    -- The read batch is planned once per connection on one server (its migration sets that on
    -- the function, *_read_batch_one_query.sql); here, as every statement, with its arguments,
    -- so that it runs on its tenant's shards.
    ALTER FUNCTION identity_read_batch(text, text[], text[], bigint[], bigint[])
        RESET plan_cache_mode;

    FOREACH note IN ARRAY coalesce(notes, '{}') LOOP
        EXECUTE note;
    END LOOP;
END
$distribute$;
