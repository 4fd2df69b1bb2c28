-- The read of every identify and lookup, told which record versions the caller holds already
-- (`p_known`, from its cache): such a record comes back without its lists, which are then
-- neither fetched from TOAST nor sent, so a returning customer costs the same at 1 row or
-- 10,000. Versions come from one sequence and are never reused, so an equal version is the
-- same record, whichever customer the caller took it for. Otherwise as identity_read, which
-- becomes this read with nothing held (the locked read, identity_lock, calls it).
CREATE FUNCTION identity_read_known(p_email text, p_phone text, p_known bigint[])
RETURNS SETOF identity_read_row
LANGUAGE sql STABLE AS $$
    SELECT (SELECT s.pending FROM identity_state AS s) > 0, e.customer_id, p.customer_id,
           c.version, c.created_at, c.last_row_at,
           CASE WHEN ck THEN NULL ELSE c.emails END,
           CASE WHEN ck THEN NULL ELSE c.email_rows END,
           CASE WHEN ck THEN NULL ELSE c.phones END,
           CASE WHEN ck THEN NULL ELSE c.phone_rows END,
           c.primary_has_email, c.primary_has_phone,
           CASE WHEN ck THEN NULL ELSE c.secondary_ids END,
           d.version, d.created_at, d.last_row_at,
           CASE WHEN dk THEN NULL ELSE d.emails END,
           CASE WHEN dk THEN NULL ELSE d.email_rows END,
           CASE WHEN dk THEN NULL ELSE d.phones END,
           CASE WHEN dk THEN NULL ELSE d.phone_rows END,
           d.primary_has_email, d.primary_has_phone,
           CASE WHEN dk THEN NULL ELSE d.secondary_ids END
    FROM (SELECT 1) AS one
    LEFT JOIN identity_identifier AS e ON e.kind = 'email' AND e.value = p_email
    LEFT JOIN identity_identifier AS p ON p.kind = 'phone' AND p.value = p_phone
    LEFT JOIN identity_customer AS c ON c.primary_id = e.customer_id
    LEFT JOIN identity_customer AS d
           ON d.primary_id = p.customer_id AND p.customer_id IS DISTINCT FROM e.customer_id
    CROSS JOIN LATERAL (SELECT coalesce(c.version = ANY(p_known), false) AS ck,
                               coalesce(d.version = ANY(p_known), false) AS dk) AS known
$$;

CREATE OR REPLACE FUNCTION identity_read(p_email text, p_phone text)
RETURNS SETOF identity_read_row
LANGUAGE sql STABLE AS $$
    SELECT * FROM identity_read_known(p_email, p_phone, '{}')
$$;
