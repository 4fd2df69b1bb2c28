-- Phone regions: a tenant may name the region (ISO 3166 alpha-2) its national phone numbers are
-- read in; the library then stores and matches every number of the tenant in E.164. The setting
-- lives here, so every process agrees; it changes only in a write transaction while the tenant
-- has no contact rows, and every write re-reads it under the write lock. No row: no region.
CREATE TABLE identity_tenant_settings (
    tenant_id    TEXT PRIMARY KEY NOT NULL,
    phone_region TEXT CHECK (phone_region GLOB '[A-Z][A-Z]'),
    updated_at   TEXT NOT NULL
) WITHOUT ROWID;
