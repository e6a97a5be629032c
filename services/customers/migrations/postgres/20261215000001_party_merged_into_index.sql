-- no-transaction
-- Merging a party repoints earlier redirects to it (UPDATE ... WHERE merged_into_id), and an
-- export lists the parties merged into one: without an index each read every party. Only merged
-- parties are in it.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to
-- drop before running the migration again.
CREATE INDEX CONCURRENTLY parties_merged_into ON parties (merged_into_id) WHERE merged_into_id IS NOT NULL;
