-- The version of the party each customer copy holds: a late customers event older than it is ignored.
ALTER TABLE customers ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
