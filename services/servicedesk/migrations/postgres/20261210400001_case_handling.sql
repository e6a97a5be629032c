-- Case handling: queue supervisors hear of escalations, the escalation clock leaves out the
-- business minutes a case waited on the customer, and staff watch customers.
ALTER TABLE queues ADD COLUMN supervisor_id TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN waited_minutes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE escalations ADD COLUMN notified TEXT NOT NULL DEFAULT '[]';
ALTER TABLE escalations ADD COLUMN overdue_minutes BIGINT NOT NULL DEFAULT 0;

-- The customer a notice to staff is about (empty for notices to the customer themselves), so
-- an erasure reaches those too.
ALTER TABLE notifications ADD COLUMN about TEXT NOT NULL DEFAULT '';
CREATE INDEX notifications_about ON notifications (about);

-- Customers staff are told about whenever one of their cases opens, changes or goes overdue.
CREATE TABLE watches (
    party_id   TEXT NOT NULL,
    watcher_id TEXT NOT NULL,
    note       TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (party_id, watcher_id)
);
CREATE INDEX watches_watcher ON watches (watcher_id, party_id);

-- The installed base: products customers own, which cases refer to.
CREATE TABLE assets (
    id                TEXT PRIMARY KEY,
    party_id          TEXT NOT NULL,
    product_id        TEXT NOT NULL DEFAULT '',
    product_name      TEXT NOT NULL,
    serial_number     TEXT NOT NULL DEFAULT '',
    purchase_date     TEXT NOT NULL,
    warranty_end_date TEXT NOT NULL DEFAULT '',
    order_id          TEXT NOT NULL DEFAULT '',
    status            BIGINT NOT NULL,
    registered_by     TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    version           BIGINT NOT NULL
);
CREATE INDEX assets_party ON assets (party_id, purchase_date, id);
CREATE UNIQUE INDEX assets_serial ON assets (product_name, serial_number) WHERE serial_number <> '';
-- A case about an asset keeps the asset's warranty end, kept equal when the asset changes.
ALTER TABLE cases ADD COLUMN asset_id TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN warranty_end_date TEXT NOT NULL DEFAULT '';
CREATE INDEX cases_asset ON cases (asset_id) WHERE asset_id <> '';

-- A customer's last closed cases (the customer 360 shows them).
CREATE INDEX cases_party_resolved ON cases (party_id, resolved_at, id) WHERE resolved_at IS NOT NULL;
