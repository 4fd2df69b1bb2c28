-- A long erase or import runs in steps of bounded size, each its own write transaction, so that
-- the one writer SQLite has serves every other tenant between them (one transaction held it
-- for the whole job: other tenants' writes timed out). While a tenant has a job, its other
-- calls wait for it, since they would see it half done; the row says what is left, so that a
-- job whose process died is finished (an erase) or undone (an import) by the next call that
-- finds it without progress.
CREATE TABLE identity_tenant_job (
    tenant_id   TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('erase', 'import')),
    owner       INTEGER NOT NULL,
    started_ms  INTEGER NOT NULL,
    progress_ms INTEGER NOT NULL,
    plan        TEXT NOT NULL
) WITHOUT ROWID;
