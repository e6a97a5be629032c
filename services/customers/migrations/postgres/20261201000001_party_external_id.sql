-- The id a party has in the system it was imported from (crm_import_keys is the index).
ALTER TABLE parties ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
