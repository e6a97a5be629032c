-- An imported order keeps its import key on its own row (source, content hash, the run and row
-- that last saw it) instead of a second row in crm_import_keys: millions of orders are imported,
-- and each wrote two rows in two indexed tables.
ALTER TABLE orders ADD COLUMN import_source TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN import_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN import_run TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN import_row BIGINT NOT NULL DEFAULT 0;
UPDATE orders SET import_source = k.source, import_hash = k.content_hash, import_run = k.run_id,
    import_row = k.row_number
FROM crm_import_keys k WHERE k.entity = 'order' AND k.record_id = orders.id;
DELETE FROM crm_import_keys WHERE entity = 'order';
CREATE UNIQUE INDEX orders_import_key ON orders (external_id, import_source) WHERE import_source <> '';
