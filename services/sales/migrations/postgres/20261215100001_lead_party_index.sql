-- no-transaction
-- A merged or erased party's leads are found by party on every such event: without an index each
-- event read every lead.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to
-- drop before running the migration again.
CREATE INDEX CONCURRENTLY leads_party ON leads (party_id);
