-- Split: pairs of rows whose customers must never merge again. A split adds the primaries of
-- its two parts (and each part with every customer the split customer was kept apart from);
-- a merge is withheld when a pair has a row in each customer. Rows, not customers: a pair
-- follows its rows through later merges.
CREATE TABLE identity_kept_apart (
    tenant_id  TEXT NOT NULL,
    a_id       INTEGER NOT NULL,
    b_id       INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, a_id, b_id)
);

CREATE INDEX identity_kept_apart_b_idx ON identity_kept_apart (tenant_id, b_id);
