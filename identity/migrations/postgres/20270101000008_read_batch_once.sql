-- A batch of reads sends each record's lists at most once (store/postgres/reads.rs). When many
-- requests of a batch meet the same customer (a large customer's regulars after it changed),
-- `identity_read_batch` used to send its lists for every one of them: a 20,000-row customer's
-- 1 MB once per request. Now each request is read holding, besides what the caller holds,
-- every record and base an earlier row of the batch answered: the caller decodes the rows in
-- order and holds those by then, so a later row names the record (its version) and leaves its
-- lists out, as for any record the caller held. Each row is still what `identity_read_known`
-- finds for that request at the batch's snapshot.
CREATE OR REPLACE FUNCTION identity_read_batch(p_tenant text, p_emails text[], p_phones text[],
                                               p_versions bigint[], p_bases bigint[])
RETURNS SETOF identity_read_row
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r identity_read_row;
    versions bigint[] := p_versions;
    bases bigint[] := p_bases;
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_emails, 1), 0) LOOP
        FOR r IN
            SELECT * FROM identity_read_known(p_tenant, p_emails[i], p_phones[i], versions, bases)
        LOOP
            RETURN NEXT r;
            -- a NULL version: a record edited by hand, which is never held
            IF r.e_version IS NOT NULL AND r.e_version <> ALL(versions) THEN
                versions := versions || r.e_version;
                bases := bases || r.e_base_version;
            END IF;
            IF r.p_version IS NOT NULL AND r.p_version <> ALL(versions) THEN
                versions := versions || r.p_version;
                bases := bases || r.p_base_version;
            END IF;
        END LOOP;
    END LOOP;
END
$$;
