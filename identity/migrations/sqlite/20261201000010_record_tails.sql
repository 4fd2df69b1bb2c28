-- Rows added to a customer since its record was last written whole (its base): adding a row
-- appends one small tail row here instead of rewriting the record, whose lists grow with the
-- customer (SQLite rewrites a whole row on any update); every 32nd addition folds the tail
-- into the base. A tail row carries the record's version and last_row_at (Unix nanoseconds)
-- after it, the row's id (a new secondary) and the values it brought to the customer. A record
-- is its base row with its tail rows applied in seq order.
CREATE TABLE IF NOT EXISTS identity_customer_tail (
    tenant_id    TEXT NOT NULL,
    primary_id   INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    version      INTEGER NOT NULL,
    last_row_at  INTEGER NOT NULL,
    secondary_id INTEGER NOT NULL,
    email        TEXT,
    phone        TEXT,
    PRIMARY KEY (tenant_id, primary_id, seq)
) WITHOUT ROWID;

-- a record deleted takes its tail with it (a whole rewrite, INSERT OR REPLACE, clears the tail
-- itself: REPLACE does not fire delete triggers)
CREATE TRIGGER IF NOT EXISTS identity_customer_tail_drop AFTER DELETE ON identity_customer
BEGIN
    DELETE FROM identity_customer_tail
    WHERE tenant_id = OLD.tenant_id AND primary_id = OLD.primary_id;
END;

-- Every whole write of a record draws a new base_seq from this counter (never reused, and
-- distinct per customer), so that a process may hold a decoded base and know it current by
-- its number alone (store/sqlite/bases.rs). Records written before this migration are each
-- their customer's base number 0.
ALTER TABLE identity_customer ADD COLUMN base_seq INTEGER NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS identity_base_seq (n INTEGER NOT NULL);
INSERT INTO identity_base_seq (n) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM identity_base_seq);
