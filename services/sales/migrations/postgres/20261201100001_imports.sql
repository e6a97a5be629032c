-- Imported history: when an order reached its status (0 = at placement), the order's and the
-- account's ids in the system they were imported from.
ALTER TABLE orders ADD COLUMN status_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
CREATE INDEX accounts_external_id ON accounts (source, external_id) WHERE external_id <> '';

-- The read copy of channel partners (from the partners service's events), so that imported
-- orders can name their channel by the partner's external id.
CREATE TABLE channel_partners (
    partner_id  TEXT PRIMARY KEY,
    name        TEXT NOT NULL DEFAULT '',
    status      BIGINT NOT NULL DEFAULT 0,
    source      TEXT NOT NULL DEFAULT '',
    external_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX channel_partners_external_id ON channel_partners (source, external_id) WHERE external_id <> '';
