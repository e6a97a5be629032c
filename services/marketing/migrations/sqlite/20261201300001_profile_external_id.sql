-- The id a customer was imported under (from customers' events), so imports of other data can
-- name customers by it.
ALTER TABLE profiles ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE profiles ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
CREATE INDEX profiles_external_id ON profiles (source, external_id) WHERE external_id <> '';
