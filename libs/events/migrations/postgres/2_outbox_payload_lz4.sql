-- Batch events (an import's 500 orders in one payload) made pglz compression of the outbox
-- payload a visible share of a bulk load's CPU; LZ4 compresses several times faster. Servers
-- built without LZ4 keep the default.
DO $$
BEGIN
    ALTER TABLE crm_outbox ALTER COLUMN payload SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    NULL;
END
$$;
