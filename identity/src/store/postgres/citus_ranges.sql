-- Run by `migrate` on Citus after citus.sql has committed (it reaches the workers over
-- connections of their own, which see only committed objects). Each worker draws ids (contact,
-- event, webhook) and record versions from a range of its own, starting at the bottom of the
-- range. A database restored from a dump of a cluster already holds ids and versions drawn in
-- those ranges: a worker's sequence that has never been used moves above the highest value of
-- its range in use (and is then marked used, so later starts find nothing to do and scan
-- nothing; the bottom value of an empty range is skipped).
DO $ranges$
DECLARE
    s record;
    fresh boolean;
    highest text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('identity:citus:distribute', 0));
    FOR s IN
        -- every identity or serial column of a distributed table
        SELECT q.relname::text AS seq,
               format('SELECT %I AS v FROM %I', a.attname, c.relname) AS used
        FROM pg_dist_partition AS p
        JOIN pg_class AS c ON c.oid = p.logicalrelid
        JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        JOIN pg_class AS q
          ON q.oid = pg_get_serial_sequence(format('%I', c.relname), a.attname)::regclass
        WHERE c.relnamespace = current_schema()::regnamespace AND p.partmethod = 'h'
        UNION ALL
        -- and the record versions (a column default, set by citus.sql)
        SELECT 'identity_version_seq',
               'SELECT version AS v FROM identity_customer
                UNION ALL SELECT base_version FROM identity_customer'
    LOOP
        SELECT coalesce(bool_or(r.success AND r.result = 't'), false) INTO fresh
        FROM run_command_on_workers(format(
            'SELECT last_value IS NULL FROM pg_sequences
             WHERE schemaname = %L AND sequencename = %L', current_schema(), s.seq)) AS r;
        CONTINUE WHEN NOT fresh;
        -- the highest value in use in each node group's range (group g: from g * 2^48 + 1)
        EXECUTE format(
            'SELECT coalesce(string_agg(format(''(%%s, %%s)'', g, m), '', ''), ''(0, 0)'')
             FROM (SELECT v >> 48 AS g, max(v) AS m FROM (%s) AS u
                   WHERE v > (1::bigint << 48) GROUP BY 1) AS per_group', s.used)
        INTO highest;
        PERFORM run_command_on_workers(format(
            'SELECT setval(%L, greatest(q.start_value, coalesce((
                 SELECT h.m FROM (VALUES %s) AS h(g, m)
                 WHERE h.g = (SELECT groupid FROM pg_dist_local_group)), 0)))
             FROM pg_sequences AS q
             WHERE q.schemaname = %L AND q.sequencename = %L AND q.last_value IS NULL',
            format('%I.%I', current_schema(), s.seq), highest, current_schema(), s.seq));
    END LOOP;
END
$ranges$;
