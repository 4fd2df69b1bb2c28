-- Moves the contact id sequence of the node that draws tenant p_tenant's ids above p_highest,
-- unless it is there already or p_highest is outside the sequence's range: applying erasures
-- again (store/postgres/reapply.rs). On Citus each worker draws from a range of its own
-- and the function, distributed by its tenant, runs on the tenant's worker; on one server the
-- caller holds a lock of the table first. setval is not transactional: a
-- rolled-back caller leaves a gap in the ids, never a reused one.
CREATE FUNCTION identity_move_ids_above(p_tenant text, p_highest bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    seq regclass := pg_get_serial_sequence('contact', 'id')::regclass;
BEGIN
    PERFORM setval(seq, p_highest)
    FROM pg_sequence AS s
    WHERE s.seqrelid = seq AND p_highest BETWEEN s.seqmin AND s.seqmax
      AND coalesce(pg_sequence_last_value(seq), 0) < p_highest;
END
$$;
