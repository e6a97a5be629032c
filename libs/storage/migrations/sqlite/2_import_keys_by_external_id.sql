-- Keys lead with the external id (the columns a batch lookup varies), as on PostgreSQL, where
-- leading with the constant (entity, source) made a planner without statistics scan every key.
CREATE TABLE crm_import_keys_new (
    entity       TEXT NOT NULL,
    source       TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    record_id    TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    row_number   BIGINT NOT NULL,
    PRIMARY KEY (external_id, entity, source)
);
INSERT INTO crm_import_keys_new
    SELECT entity, source, external_id, record_id, content_hash, run_id, row_number FROM crm_import_keys;
DROP TABLE crm_import_keys;
ALTER TABLE crm_import_keys_new RENAME TO crm_import_keys;
CREATE INDEX crm_import_keys_record ON crm_import_keys (record_id, entity);
