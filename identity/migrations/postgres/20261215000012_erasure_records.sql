-- The erasure log in the database: each erase's record (its receipt, every row it deleted with
-- the row's time of creation, the digests it suppressed and the fingerprint of their secret;
-- no email or phone number), as the line an erasure log file holds. Exported and applied again
-- to a restored backup (Identity::erasures, Identity::reapply_erasures). Erases made before
-- this migration have receipts only, and are exported from them.
CREATE TABLE identity_erasure_record (
    tenant_id   text NOT NULL,
    customer_id bigint NOT NULL,
    erased_at   timestamptz NOT NULL,
    record      text NOT NULL,
    PRIMARY KEY (tenant_id, customer_id)
);
