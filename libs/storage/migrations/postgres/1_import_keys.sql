-- Records brought in by bulk imports: (entity, source system, external id) -> the record here.
-- `content_hash` tells an unchanged row from a changed one; `run_id` and `row_number` name the
-- import that last saw the key, so a second row with the same key in one import is refused.
CREATE TABLE crm_import_keys (
    entity       TEXT NOT NULL,
    source       TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    record_id    TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    row_number   BIGINT NOT NULL,
    PRIMARY KEY (entity, source, external_id)
);
CREATE INDEX crm_import_keys_record ON crm_import_keys (entity, record_id);
