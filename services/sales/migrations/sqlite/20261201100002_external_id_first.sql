-- Lookups by external id lead with it: an import asks for up to 1,000 of one source at a time,
-- and with the source first a planner without statistics scans every row of the source.
DROP INDEX accounts_external_id;
CREATE INDEX accounts_external_id ON accounts (external_id, source) WHERE external_id <> '';
DROP INDEX channel_partners_external_id;
CREATE INDEX channel_partners_external_id ON channel_partners (external_id, source) WHERE external_id <> '';
