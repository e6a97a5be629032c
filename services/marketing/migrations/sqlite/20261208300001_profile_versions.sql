-- The version of the party each profile copies: a late customers event older than it is ignored.
ALTER TABLE profiles ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
