-- Lookups by external id lead with it: an import asks for up to 1,000 of one source at a time,
-- and with the source first a planner without statistics scans every customer of the source.
DROP INDEX customers_external_id;
CREATE INDEX customers_external_id ON customers (external_id, source) WHERE external_id <> '';
