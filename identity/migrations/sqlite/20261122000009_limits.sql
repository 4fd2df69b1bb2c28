-- Per-customer caps on distinct emails and phone numbers (NULL: none). Changing them moves the
-- tenant's blocked_version, so no write planned under the old caps commits after the change.
ALTER TABLE identity_tenant_settings ADD COLUMN max_emails INTEGER;
ALTER TABLE identity_tenant_settings ADD COLUMN max_phones INTEGER;
