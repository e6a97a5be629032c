-- Keys lead with the external id. An import asks for up to 1,000 external ids of one entity and
-- source at a time; with (entity, source) first, a planner that does not yet know that every key
-- shares them (a fresh table, statistics not gathered) scans every key of the entity and filters,
-- so each batch of a large import grew slower than the last.
ALTER TABLE crm_import_keys DROP CONSTRAINT crm_import_keys_pkey;
ALTER TABLE crm_import_keys ADD PRIMARY KEY (external_id, entity, source);
DROP INDEX crm_import_keys_record;
CREATE INDEX crm_import_keys_record ON crm_import_keys (record_id, entity);
