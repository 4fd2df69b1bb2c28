-- Reads many requests of one tenant in one call (store/postgres/reads.rs): the concurrent reads
-- of a moment share one round trip. `p_emails` and `p_phones` hold one request each, at the
-- same index (NULL: the request has no such value); the answer is one row per request, in the
-- requests' order, each the row `identity_read_known` answers for that request alone, all under
-- one snapshot. `p_versions` and `p_bases` hold what the caller holds for any of them (versions
-- are never reused, so a version held for one request is the same record for another). Each
-- request is read by `identity_read_known` itself: its plan probes the unique indexes, where one
-- query over all the requests would be planned for arrays of unknown length.
CREATE FUNCTION identity_read_batch(p_tenant text, p_emails text[], p_phones text[],
                                    p_versions bigint[], p_bases bigint[])
RETURNS SETOF identity_read_row
LANGUAGE plpgsql STABLE AS $$
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_emails, 1), 0) LOOP
        RETURN QUERY
        SELECT * FROM identity_read_known(p_tenant, p_emails[i], p_phones[i], p_versions, p_bases);
    END LOOP;
END
$$;
