-- no-transaction
-- An erased customer's call list entries are blanked by party: the list-first key does not serve
-- that, so each erasure read every entry of every list.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to
-- drop before running the migration again.
CREATE INDEX CONCURRENTLY call_list_entries_party ON call_list_entries (party_id);
