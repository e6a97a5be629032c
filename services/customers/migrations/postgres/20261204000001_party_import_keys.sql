-- An imported party keeps its import key on its own row (source, content hash, the run and row
-- that last saw it) instead of a second row in crm_import_keys: a million parties wrote two rows
-- in two indexed tables.
ALTER TABLE parties ADD COLUMN import_source TEXT NOT NULL DEFAULT '';
ALTER TABLE parties ADD COLUMN import_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE parties ADD COLUMN import_run TEXT NOT NULL DEFAULT '';
ALTER TABLE parties ADD COLUMN import_row BIGINT NOT NULL DEFAULT 0;
UPDATE parties SET import_source = k.source, import_hash = k.content_hash, import_run = k.run_id,
    import_row = k.row_number
FROM crm_import_keys k WHERE k.entity = 'party' AND k.record_id = parties.id;
DELETE FROM crm_import_keys WHERE entity = 'party';
CREATE UNIQUE INDEX parties_import_key ON parties (external_id, import_source) WHERE import_source <> '';
