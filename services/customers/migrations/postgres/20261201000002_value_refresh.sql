-- Parties whose order ledger changed in the transaction applying a batch of order events: each is
-- refreshed once when the batch ends (several orders of one customer arrive together in an
-- import). Empty outside such a transaction.
CREATE TABLE value_refresh_pending (
    party_id TEXT PRIMARY KEY
);
