-- Imported history: when an order reached its status (0 = at placement), the order's and the
-- account's ids in the system they were imported from.
ALTER TABLE orders ADD COLUMN status_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
CREATE INDEX accounts_external_id ON accounts (source, external_id) WHERE external_id <> '';
