-- no-transaction
-- An opportunity's activities, newest first, a page from its (time, id) position on: with the id in
-- the key, the position is a range of the index, and ties in time need no sort. It replaces
-- `activities_opportunity`, dropped in the next migration. PostgreSQL builds it concurrently, so
-- that the table stays writable meanwhile: hence a migration of its own, outside a transaction.
-- A build that fails leaves an invalid index, to drop before running the migration again.
CREATE INDEX CONCURRENTLY activities_opportunity_page ON activities (opportunity_id, occurred_at, id);
