-- Parties whose ledger a bulk import changed: refreshed once the import goes quiet (or at the
-- latest some minutes after their first imported order), not after every batch, as an import
-- names most customers again and again. `marked_at` is when the first such order arrived.
CREATE TABLE value_refresh_due (
    party_id  TEXT PRIMARY KEY,
    marked_at BIGINT NOT NULL
);
CREATE INDEX value_refresh_due_marked ON value_refresh_due (marked_at);
