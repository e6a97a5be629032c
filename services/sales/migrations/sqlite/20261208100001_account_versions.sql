-- The version of the party each account copies: a late customers event older than it is ignored.
ALTER TABLE accounts ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
