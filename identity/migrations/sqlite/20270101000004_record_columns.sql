-- identity_customer with its short columns before its lists.
--
-- SQLite stores a row's columns in order and a long value's overflow pages as a chain, so to
-- read a column that comes after a list it walks every overflow page of the lists before it.
-- The read of every identify and lookup takes a record's version, flags and base number, not
-- its lists (those come from the record the store holds, `store/sqlite/bases.rs`): with the
-- lists first, each read of a 20,000-row customer still walked its ~1 MB of lists (a known
-- checkout of it ran at 0.56 of a small customer's). Rebuilt with the short columns first;
-- the lists are read only when a base must be decoded. Same columns, same contents.
CREATE TABLE identity_customer_short_first (
    tenant_id         TEXT NOT NULL,
    primary_id        INTEGER NOT NULL,
    version           INTEGER NOT NULL,
    created_at        TEXT NOT NULL,
    last_row_at       TEXT NOT NULL,
    primary_has_email INTEGER NOT NULL,
    primary_has_phone INTEGER NOT NULL,
    updated_at        TEXT NOT NULL,
    base_seq          INTEGER NOT NULL DEFAULT 0,
    emails            TEXT NOT NULL,
    email_rows        TEXT NOT NULL,
    phones            TEXT NOT NULL,
    phone_rows        TEXT NOT NULL,
    secondary_ids     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, primary_id)
);

INSERT INTO identity_customer_short_first (tenant_id, primary_id, version, created_at,
    last_row_at, primary_has_email, primary_has_phone, updated_at, base_seq, emails, email_rows,
    phones, phone_rows, secondary_ids)
SELECT tenant_id, primary_id, version, created_at, last_row_at, primary_has_email,
       primary_has_phone, updated_at, base_seq, emails, email_rows, phones, phone_rows,
       secondary_ids
FROM identity_customer;

-- dropping the table drops its trigger and fires none (the tails stay, as their records do)
DROP TABLE identity_customer;
ALTER TABLE identity_customer_short_first RENAME TO identity_customer;

-- a record deleted takes its tail with it (as in the baseline)
CREATE TRIGGER identity_customer_tail_drop AFTER DELETE ON identity_customer
BEGIN
    DELETE FROM identity_customer_tail
    WHERE tenant_id = OLD.tenant_id AND primary_id = OLD.primary_id;
END;
