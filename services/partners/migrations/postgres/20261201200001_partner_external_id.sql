-- The id a partner has in the system it was imported from (crm_import_keys is the index).
ALTER TABLE partners ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
ALTER TABLE partners ADD COLUMN source TEXT NOT NULL DEFAULT '';
