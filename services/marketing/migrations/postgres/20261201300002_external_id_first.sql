-- Lookups by external id lead with it: an import asks for up to 1,000 of one source at a time,
-- and with the source first a planner without statistics scans every profile of the source.
DROP INDEX profiles_external_id;
CREATE INDEX profiles_external_id ON profiles (external_id, source) WHERE external_id <> '';
